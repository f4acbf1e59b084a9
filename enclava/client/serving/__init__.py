"""The customer's side of confidential serving: verify a service enclave, then talk to it through
the official ``openai`` client with every response checked (docs/SERVING.md, "The client").

- :mod:`.verify`      ``verify_service``: the seven guards, in order, before anything is sent;
                      ``VerifiedService`` pins TLS to the statement's certificate
- :mod:`.transport`   ``ServiceTransport``: the ``httpx2`` transport that adds the session token and
                      voucher, verifies each receipt, strips it from streams, signs the next voucher
- :mod:`.saved`       ``save_response`` / ``verify_saved_response``: offline checks of one exchange
- :mod:`.chain_view`  ``ServiceChainView``: the chain reads the guards need
- :mod:`.onchain`     ``OnChainServiceView``: those reads on a real chain
- :mod:`.errors`      ``ServiceRefused`` (and leaves), ``ExchangeRefused`` (and leaves)
"""

from enclava.client.serving.chain_view import ServiceChainView
from enclava.client.serving.errors import (
    EnclaveCertificateRefused,
    EnclaveNotForService,
    EnclaveNotValid,
    ExchangeRefused,
    ModelHashMismatch,
    RequestNotForService,
    ResponseEncodingRefused,
    SavedResponseInvalid,
    ServiceDistrusted,
    ServiceNotLive,
    ServiceRefused,
    ServiceUnreachable,
    ServiceUrlInsecure,
    SimulatedTeeRefused,
    StatementNotForService,
    StreamMalformed,
    TlsKeyNotBound,
    TlsPinFailed,
)
from enclava.client.serving.onchain import OnChainServiceView
from enclava.client.serving.saved import (
    load_saved_response,
    save_response,
    verify_saved_response,
)
from enclava.client.serving.transport import Exchange, ServiceTransport
from enclava.client.serving.verify import VerifiedService, verify_service, verify_statement_bytes

__all__ = [
    "ServiceChainView",
    "OnChainServiceView",
    "VerifiedService",
    "verify_service",
    "verify_statement_bytes",
    "ServiceTransport",
    "Exchange",
    "save_response",
    "load_saved_response",
    "verify_saved_response",
    "ServiceRefused",
    "ServiceUnreachable",
    "ServiceUrlInsecure",
    "StatementNotForService",
    "TlsKeyNotBound",
    "EnclaveCertificateRefused",
    "EnclaveNotValid",
    "EnclaveNotForService",
    "SimulatedTeeRefused",
    "ServiceNotLive",
    "ModelHashMismatch",
    "ExchangeRefused",
    "RequestNotForService",
    "ResponseEncodingRefused",
    "ServiceDistrusted",
    "TlsPinFailed",
    "StreamMalformed",
    "SavedResponseInvalid",
]
