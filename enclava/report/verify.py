"""Independent verification of a completed order's integrity report.

Everything is recomputed from the events (``OrderCreated`` for the terms, ``OrderCompleted`` for the
report and its signature) and compared with the registries' current state; the contract's own
``verifyReport`` is asked last, as one more opinion rather than the answer.
"""

from __future__ import annotations

import hashlib
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3Exception

from enclava.chain.contracts import ContractSet
from enclava.errors import ChainError
from enclava.protocol.tee import TeeType
from enclava.report.checklist import Checklist
from enclava.report.digest import inputs_hash, order_id_of, report_digest, report_tuple
from enclava.report.events import CompletedRecord, read_completion, read_order

__all__ = ["verify_order_report"]

_VALID, _EXPIRED = 0, 5  # IAttestationRegistry.EnclaveStatus


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()


def _call(fn: ContractFunction, what: str) -> Any:  # Any: what the contract call returns
    try:
        return fn.call()
    except (Web3Exception, ValueError, ConnectionError) as exc:
        raise ChainError(f"cannot read {what} from the chain: {exc}") from exc


def verify_order_report(
    chain: ContractSet,
    order_id: str | bytes,
    *,
    result_ciphertext: bytes | None = None,
    from_block: int = 0,
) -> Checklist:
    """Re-check the report that completed ``order_id``; raises OrderNotFound / OrderNotCompleted."""
    order = read_order(chain, order_id, from_block=from_block)
    done = read_completion(chain, order_id, from_block=from_block)
    report, terms = done.report, order.terms
    oid = _hex(order.order_id)
    checks = Checklist(order_id=oid, report=_display(report, done))
    market = chain.marketplace

    # 1. the signature over the report, with a digest computed here and compared with the contract's
    digest = report_digest(report, chain_id=int(chain.w3.eth.chain_id), marketplace=market.address)
    onchain_digest = bytes(
        _call(market.functions.reportDigest(report_tuple(report)), "reportDigest")
    )
    stored = bytes(_call(market.functions.reportHash(order.order_id), "reportHash"))
    checks.add(
        "report_digest",
        digest == onchain_digest == stored == done.report_hash,
        f"EIP-712 digest {_hex(digest)} matches the contract's",
        f"digest mismatch: local {_hex(digest)}, reportDigest {_hex(onchain_digest)}, stored "
        f"{_hex(stored)}",
        "Report digest",
    )
    try:
        signer = Account._recover_hash(digest, signature=done.signature)
    except (ValueError, TypeError) as exc:
        signer = f"(unrecoverable: {type(exc).__name__})"
    enclave = to_checksum_address(report["enclave"])
    checks.add(
        "signature",
        signer == enclave,
        f"signed by the enclave {enclave}",
        f"signature recovers {signer}, not the report's enclave {enclave}",
        "Enclave signature",
    )

    # 2. the enclave's certification, provider, TEE type and measurement
    status, record = _call(
        chain.attestation_registry.functions.enclaveStatus(enclave), "enclaveStatus"
    )
    # the record ends with the enclave's GPU class and count, which a report does not restate
    rec_provider, rec_tee, rec_expires, _revoked, rec_ca, rec_measurement, *_gpu = record
    valid_now, why = _call(
        chain.attestation_registry.functions.checkEnclave(enclave), "checkEnclave"
    )
    expired_after = int(status) == _EXPIRED and int(rec_expires) >= int(report["finishedAt"])
    checks.add(
        "enclave_certified",
        int(status) == _VALID or expired_after,
        f"certified by CA {rec_ca}"
        + (" (certificate expired after completion)" if expired_after else ""),
        f"enclave not certified: {why or 'status ' + str(int(status))}",
        "Enclave certified",
    )
    checks.add(
        "enclave_provider",
        to_checksum_address(rec_provider) == to_checksum_address(terms["provider"]),
        f"certified for the order's provider {to_checksum_address(terms['provider'])}",
        f"certified for {rec_provider}, but the order's provider is {terms['provider']}",
        "Enclave provider",
    )
    same = int(rec_tee) == int(report["teeType"]) and bytes(rec_measurement) == bytes(
        report["measurement"]
    )
    checks.add(
        "enclave_tee_measurement",
        same,
        f"certified as {_tee(rec_tee)} with measurement {_hex(rec_measurement)}",
        f"certified as {_tee(rec_tee)}/{_hex(rec_measurement)}, report says "
        f"{_tee(report['teeType'])}/{_hex(report['measurement'])}",
        "TEE type and measurement",
    )
    allowed = _call(
        chain.attestation_registry.functions.isMeasurementAllowed(
            int(report["teeType"]), bytes(report["measurement"])
        ),
        "isMeasurementAllowed",
    )
    checks.add(
        "measurement_allowed",
        bool(allowed),
        "measurement is on the allow-list",
        "measurement is not (or no longer) on the allow-list",
        "Measurement allow-listed",
    )

    # 3. the report against the order's terms, with each hash recomputed here
    terms_id = order_id_of(terms)
    checks.add(
        "order_id",
        bytes(report["orderId"]) == order.order_id == terms_id,
        "report names this order; the terms hash to its id",
        f"report names {_hex(report['orderId'])}, terms hash to {_hex(terms_id)}, order is {oid}",
        "Order id",
    )
    checks.add(
        "engine_hash",
        bytes(report["engineHash"]) == bytes(terms["engineHash"]),
        f"engine {_hex(terms['engineHash'])}",
        f"report engine {_hex(report['engineHash'])} != order engine {_hex(terms['engineHash'])}",
        "Engine hash",
    )
    recomputed = inputs_hash(order.resource_hashes, [i["contentHash"] for i in order.inputs])
    checks.add(
        "inputs_hash",
        recomputed == bytes(terms["inputsHash"]) == bytes(report["inputsHash"]),
        f"inputs hash {_hex(recomputed)} over {len(order.resource_hashes)} resources and "
        f"{len(order.inputs)} inputs",
        f"recomputed {_hex(recomputed)}, order {_hex(terms['inputsHash'])}, report "
        f"{_hex(report['inputsHash'])}",
        "Inputs hash",
    )
    checks.add(
        "tee_type",
        int(report["teeType"]) == int(terms["teeType"]),
        f"ran on {_tee(terms['teeType'])}",
        f"report says {_tee(report['teeType'])}, order needs {_tee(terms['teeType'])}",
        "TEE type of the order",
    )

    # 4. the downloaded result, when the caller has it
    if result_ciphertext is None:
        checks.skip(
            "output_hash",
            "no result ciphertext given; pass the downloaded result to check it",
            "Result hash",
        )
    else:
        got = hashlib.sha256(result_ciphertext).digest()
        checks.add(
            "output_hash",
            got == bytes(report["outputHash"]),
            f"result SHA-256 {_hex(got)} matches",
            f"result SHA-256 {_hex(got)} != reported {_hex(report['outputHash'])}",
            "Result hash",
        )

    # 5. the contract's own opinion
    ok, reason = _call(market.functions.verifyReport(order.order_id), "verifyReport")
    checks.add(
        "contract_verify_report",
        bool(ok),
        "Marketplace.verifyReport agrees",
        f"Marketplace.verifyReport says: {reason}",
        "Contract verifyReport",
    )
    return checks


def _tee(code: Any) -> str:
    try:
        return TeeType(int(code)).name
    except ValueError:
        return f"unknown({int(code)})"


def _display(report: dict[str, Any], done: CompletedRecord) -> dict[str, Any]:
    shown = {k: (_hex(v) if isinstance(v, (bytes, bytearray)) else v) for k, v in report.items()}
    shown["teeType"] = _tee(report["teeType"])
    shown["signature"] = _hex(done.signature)
    shown["completedBlock"] = done.block_number
    shown["completedTx"] = done.tx_hash
    return shown
