"""The EVM side: a web3.py client that signs locally and speaks Enclava's errors, and the
marketplace contracts as one typed client; the provider's EIP-712 consent to an enclave."""

from enclava.chain.client import ChainClient, TxResult
from enclava.chain.consent import (
    ConsentInvalid,
    consent_typed_data,
    recover_consent_signer,
    sign_enclave_consent,
)
from enclava.chain.market import MarketClient, OrderNotFound
from enclava.chain.orders import (
    IntegrityReport,
    Order,
    OrderFailure,
    OrderInput,
    OrderTerms,
    Payment,
    inputs_hash,
    recipient_key_hash,
)

__all__ = [
    "ChainClient",
    "TxResult",
    "MarketClient",
    "OrderNotFound",
    "Order",
    "OrderTerms",
    "OrderInput",
    "Payment",
    "IntegrityReport",
    "OrderFailure",
    "inputs_hash",
    "recipient_key_hash",
    "ConsentInvalid",
    "consent_typed_data",
    "sign_enclave_consent",
    "recover_consent_signer",
]
