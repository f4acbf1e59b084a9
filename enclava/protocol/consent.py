"""The provider's consent to an enclave: one EIP-712 message, signed by the provider, checked twice.

Before a CA certifies an enclave for a provider, the provider signs, with its registered wallet::

    EnclaveConsent(address enclave,address provider,bytes32 nonce)

under the AttestationRegistry's EIP-712 domain (name "Enclava AttestationRegistry", version "1",
the chain id, the registry's address). ``nonce`` is the CA's single-use challenge that the enclave's
evidence binds, so a consent is for one certification. The CA recovers the signer with
:func:`recover_consent_signer` before it verifies any evidence, and passes the signature on to
``AttestationRegistry.registerEnclave``, which recovers it again from the same typed data and
refuses it unless it names the certificate's provider and was never used before.

The provider signs with :func:`sign_enclave_consent`; everyone builds the message with
:func:`consent_typed_data`, so signer and verifiers hash the same bytes.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError as EthUtilsValidationError
from web3 import Web3

from enclava.errors import EnclavaError
from enclava.protocol.eip712 import typed_data

__all__ = [
    "ConsentInvalid",
    "consent_typed_data",
    "sign_enclave_consent",
    "recover_consent_signer",
]


class ConsentInvalid(EnclavaError):
    """A consent cannot be built or recovered: a malformed address, nonce or signature."""

    code = "provider_consent_invalid"
    hint = (
        "The provider node signs EnclaveConsent(enclave, provider, nonce) with "
        "enclava.protocol.consent.sign_enclave_consent, for the CA nonce of this certification."
    )


def consent_typed_data(
    *, enclave: str, provider: str, nonce: bytes | str, chain_id: int, registry: str
) -> dict[str, Any]:
    """The EIP-712 ``EnclaveConsent`` message, exactly as AttestationRegistry hashes it."""
    registry = _address(registry, "registry")
    message = {
        "enclave": _address(enclave, "enclave"),
        "provider": _address(provider, "provider"),
        "nonce": _nonce(nonce),
    }
    return typed_data("EnclaveConsent", message, chain_id=chain_id, contract=registry)


def sign_enclave_consent(
    account: Any, *, enclave: str, provider: str, nonce: bytes | str, chain_id: int, registry: str
) -> str:
    """The provider's consent to ``enclave`` for the CA challenge ``nonce``: a 0x-hex signature.

    ``account`` is an eth-account ``LocalAccount``; it must be ``provider``'s own wallet, or the CA
    and the registry refuse the consent.
    """
    typed = consent_typed_data(
        enclave=enclave, provider=provider, nonce=nonce, chain_id=chain_id, registry=registry
    )
    return "0x" + bytes(account.sign_message(encode_typed_data(full_message=typed)).signature).hex()


def recover_consent_signer(
    signature: str | bytes,
    *,
    enclave: str,
    provider: str,
    nonce: bytes | str,
    chain_id: int,
    registry: str,
) -> str:
    """The checksummed address that signed this consent (:class:`ConsentInvalid` if malformed).

    The caller compares it with ``provider``: a signature by anyone else recovers another address.
    """
    typed = consent_typed_data(
        enclave=enclave, provider=provider, nonce=nonce, chain_id=chain_id, registry=registry
    )
    try:
        raw = (
            bytes.fromhex(signature.removeprefix("0x"))
            if isinstance(signature, str)
            else bytes(signature)
        )
    except (ValueError, TypeError) as exc:
        raise ConsentInvalid("the provider's consent signature is not hex") from exc
    if len(raw) != 65:  # the only length the registry's ECDSA.tryRecoverCalldata accepts
        raise ConsentInvalid(f"the provider's consent signature must be 65 bytes, not {len(raw)}")
    try:
        return str(Account.recover_message(encode_typed_data(full_message=typed), signature=raw))
    except (
        ValueError,
        TypeError,
        IndexError,
        BadSignature,
        EthUtilsValidationError,
    ) as exc:
        raise ConsentInvalid(
            f"the provider's consent signature is malformed ({type(exc).__name__})"
        ) from exc


def _address(value: str, what: str) -> str:
    try:
        return str(Web3.to_checksum_address(value))
    except (ValueError, TypeError) as exc:
        raise ConsentInvalid(f"the consent's {what} {value!r} is not an address") from exc


def _nonce(value: bytes | str) -> bytes:
    try:
        raw = bytes.fromhex(value.removeprefix("0x")) if isinstance(value, str) else bytes(value)
    except (ValueError, TypeError) as exc:
        raise ConsentInvalid("the consent's nonce is not hex") from exc
    if len(raw) != 32:
        raise ConsentInvalid(f"the consent's nonce must be 32 bytes, not {len(raw)}")
    return raw
