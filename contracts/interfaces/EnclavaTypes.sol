// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @dev Trusted execution environment families. The numeric values are part of the ABI (EIP-712
 * structs encode them as `uint8`) and are mirrored by the Python side:
 *
 * - `NONE` (0): invalid, never accepted.
 * - `TDX` (1): Intel TDX.
 * - `SEV_SNP` (2): AMD SEV-SNP.
 * - `SIMULATED` (3): the development TEE; accepted only by an attestation registry deployed with
 *   simulated measurements enabled.
 */
enum TeeType {
    NONE,
    TDX,
    SEV_SNP,
    SIMULATED
}

/**
 * @dev Kinds of resources listed in the resource registry: `NONE` (0) is invalid, `ENGINE` (1) is
 * workload code, `MODEL` (2) model weights, `DATASET` (3) data.
 */
enum ResourceKind {
    NONE,
    ENGINE,
    MODEL,
    DATASET
}
