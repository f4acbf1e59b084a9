"""Why an order fails inside the loader. Each error names a *reason* whose code goes on chain in
``failOrder``, so the customer is refunded and can see why (enclava.protocol.engine.reasons holds
the table).

    LoaderError                      reason, reason_code; the base
    ├── OrderNotExecutable           not accepted, another provider's, or past its deadline
    ├── OrderTermsMismatch           the terms the host gave do not hash to the order id
    ├── RecipientKeyMismatch         the result key the host gave is not the order's
    ├── InputUnavailable             a ciphertext cannot be fetched from IPFS
    ├── InputHashMismatch            a ciphertext's SHA-256 differs from the value on chain
    ├── KeyReleaseDenied             the key broker refused (the broker's reason is kept)
    ├── KeyReleaseInvalid            the broker's answer is unsigned, for another order or enclave,
    │                                or names other resources than the order's
    ├── CertificationFailed          the CA would not certify this enclave
    │   └── CertificationRequired    the enclave has no fresh certificate yet (the host renews it)
    ├── CaUnavailable                the CA cannot be reached
    ├── InputDecryptionFailed        a released key does not open its ciphertext
    └── EngineInvalid                the engine archive or its manifest is unusable
        └── InputsDoNotFitEngine     the order's resources and inputs are not what engine.toml
                                     declares
Sandbox failures (timeout, memory, network, output too large, ...) come from
enclava.protocol.engine.

``CertificationFailed`` and ``CaUnavailable`` are also :class:`enclava.errors.TransientError`, like
every ``ChainError``: trouble with the machine's services rather than the order, so the loader
answers them with 503 (the host retries) and never publishes them as the order's failure.
"""

from __future__ import annotations

from enclava.errors import EnclavaError, TransientError

__all__ = [
    "LoaderError",
    "OrderNotExecutable",
    "OrderTermsMismatch",
    "RecipientKeyMismatch",
    "KeyReleaseInvalid",
    "InputUnavailable",
    "InputHashMismatch",
    "KeyReleaseDenied",
    "CertificationFailed",
    "CertificationRequired",
    "CaUnavailable",
    "InputDecryptionFailed",
    "EngineInvalid",
    "InputsDoNotFitEngine",
    "reason_code_of",
]


class LoaderError(EnclavaError):
    code = "loader_error"
    reason = "internal_error"
    hint = "See the provider node's logs for the order."


class OrderNotExecutable(LoaderError):
    code = "order_not_executable"
    reason = "order_not_executable"
    hint = "Only accepted orders of this provider, before their deadline, run."


class OrderTermsMismatch(LoaderError):
    code = "order_terms_mismatch"
    reason = "order_terms_mismatch"
    hint = (
        "The chain node answered with order terms that do not hash to the order id; point the "
        "loader at an "
        "honest RPC node. Nothing was fetched or decrypted."
    )


class RecipientKeyMismatch(LoaderError):
    code = "recipient_key_mismatch"
    reason = "recipient_key_mismatch"
    hint = (
        "The result key the chain node returned is not the one the order's recipientKeyHash "
        "commits to; "
        "nothing was decrypted and no result was encrypted."
    )


class InputUnavailable(LoaderError):
    code = "input_unavailable"
    reason = "input_unavailable"
    hint = "The owner must keep the ciphertext pinned on IPFS."


class InputHashMismatch(LoaderError):
    code = "input_hash_mismatch"
    reason = "input_hash_mismatch"
    hint = "The file on IPFS is not the one the order names; nothing was decrypted."


class KeyReleaseDenied(LoaderError):
    code = "key_release_denied"
    reason = "key_release_denied"
    hint = "An owner's policy or the order's state refused the key; the owner's audit log says why."


class KeyReleaseInvalid(LoaderError):
    code = "key_release_invalid"
    reason = "key_release_invalid"
    hint = (
        "The key broker's answer was not signed by the attested CA, or named another order, "
        "enclave or "
        "resource; every key was discarded."
    )


class CertificationFailed(LoaderError, TransientError):
    code = "certification_failed"
    reason = "certification_failed"
    hint = "Check the CA's answer: evidence, measurement allow-list, provider consent."


class CertificationRequired(CertificationFailed):
    code = "certification_required"
    reason = "certification_failed"
    hint = (
        "The provider node renews the enclave's certificate (consent request, then certify) and "
        "retries."
    )


class CaUnavailable(LoaderError, TransientError):
    code = "ca_unavailable"
    reason = "ca_unavailable"
    hint = "Check the CA URL and that the CA service runs."


class InputDecryptionFailed(LoaderError):
    code = "input_decryption_failed"
    reason = "input_decryption_failed"
    hint = "The deposited key does not open the uploaded ciphertext; the owner must re-deposit."


class EngineInvalid(LoaderError):
    code = "engine_invalid"
    reason = "engine_invalid"
    hint = "The engine archive must be a canonical archive with a valid engine.toml."


class InputsDoNotFitEngine(EngineInvalid):
    code = "inputs_do_not_fit_engine"
    hint = "Order the engine with the model/dataset resources and inputs its engine.toml declares."


def reason_code_of(error: BaseException) -> int:
    """The on-chain reason code for any failure (unknown ones are ``internal_error``)."""
    from enclava.protocol.engine.reasons import Reason

    code = getattr(error, "reason_code", None)
    if isinstance(code, int):
        return int(code)
    name = str(getattr(error, "reason", "internal_error")).upper()
    return int(Reason[name]) if name in Reason.__members__ else int(Reason.INTERNAL_ERROR)
