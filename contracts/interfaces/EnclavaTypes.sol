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

/**
 * @dev GPU classes: the short ASCII label a TEE offer promises and an enclave is certified with,
 * left-aligned and zero-padded into a `bytes32` (e.g. "H100"). Two labels mean "no GPU": zero (an
 * offer published without a class, an enclave certified without GPUs) and "cpu" (what provider
 * nodes publish for a CPU-only machine). Mirrored by `enclava.protocol.tee.offer_requires_gpu`.
 */
library GpuClasses {
    /// @dev The label of a CPU-only TEE offer.
    bytes32 internal constant CPU = "cpu";

    /// @dev Whether an offer of `gpuClass` promises a GPU: neither zero nor "cpu".
    function offerHasGpu(bytes32 gpuClass) internal pure returns (bool) {
        return gpuClass != bytes32(0) && gpuClass != CPU;
    }
}
