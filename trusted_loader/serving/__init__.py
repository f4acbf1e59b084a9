"""The service enclave: confidential serving of one model (docs/SERVING.md, "In the enclave").

``ServingEnclave`` (``serve``) composes the TLS identity made inside the enclave (``tls``), the
sandboxed serving engine on a Unix socket (``engine_process``), the customers' accounts and the
credit rule (``ledger``) and the HTTPS front that authenticates, meters and signs (``proxy``).
"""

from trusted_loader.serving.engine_process import EngineProcess
from trusted_loader.serving.errors import (
    EngineRequestFailed,
    EngineUnavailable,
    PaymentRequired,
    RequestRefused,
    ServingError,
    ServingSetupFailed,
    SessionRefused,
    VoucherRefused,
)
from trusted_loader.serving.ledger import Ledger
from trusted_loader.serving.proxy import ProxyConfig, build_proxy_app
from trusted_loader.serving.serve import ServingEnclave
from trusted_loader.serving.settings import ServingSettings
from trusted_loader.serving.tls import TlsIdentity, make_tls_identity, tls_spki_sha256

__all__ = [
    "ServingEnclave",
    "ServingSettings",
    "EngineProcess",
    "Ledger",
    "ProxyConfig",
    "build_proxy_app",
    "TlsIdentity",
    "make_tls_identity",
    "tls_spki_sha256",
    "ServingError",
    "ServingSetupFailed",
    "EngineUnavailable",
    "SessionRefused",
    "VoucherRefused",
    "PaymentRequired",
    "RequestRefused",
    "EngineRequestFailed",
]
