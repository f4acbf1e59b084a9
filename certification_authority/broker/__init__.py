"""The key broker: the CA's security policy engine for resource keys.

Owners deposit age-encrypted resource keys with a signed policy (:func:`build_deposit_request`);
certified enclaves obtain an order's keys, re-wrapped to their own age key, only when every guard
passes (:mod:`.guards`, in order); every decision is appended to the hash-chained audit log, which
owners read with a signed request (:func:`build_audit_request`, :func:`check_audit_view`).
"""

from certification_authority.broker.broker import KeyBroker
from certification_authority.broker.chain import (
    ChainView,
    MeasurementAllowList,
    OrderStatus,
    OrderView,
)
from certification_authority.broker.client import (
    build_audit_request,
    build_deposit_request,
    check_audit_view,
)
from certification_authority.broker.errors import *  # noqa: F403 - the leaves are listed in errors.__all__
from certification_authority.broker.errors import __all__ as _error_names
from certification_authority.broker.fields import TeeCode
from certification_authority.broker.guards import (
    ENCLAVE_GUARDS,
    RESOURCE_GUARDS,
    ReleaseContext,
    guard_certificate_valid,
    guard_measurement_allowed,
    guard_order_accepted,
    guard_policy_allows,
    guard_resource_in_order,
)
from certification_authority.broker.memory import InMemoryAllowList, InMemoryChainView
from certification_authority.broker.models import (
    AuditReadRequest,
    DepositReceipt,
    DepositRequest,
    DepositStatus,
    KeyPolicy,
    OrderInputsDeposit,
    Revocation,
    VerifiedEnclave,
    WrappedKey,
)
from certification_authority.broker.signing import (
    AUDIT_READ_DOMAIN,
    DEPOSIT_DOMAIN,
    audit_read_message,
    deposit_message,
)

__all__ = [
    "KeyBroker",
    "ChainView",
    "OrderView",
    "OrderStatus",
    "MeasurementAllowList",
    "InMemoryChainView",
    "InMemoryAllowList",
    "TeeCode",
    "KeyPolicy",
    "OrderInputsDeposit",
    "DepositRequest",
    "DepositReceipt",
    "DepositStatus",
    "AuditReadRequest",
    "WrappedKey",
    "Revocation",
    "VerifiedEnclave",
    "build_deposit_request",
    "build_audit_request",
    "check_audit_view",
    "deposit_message",
    "audit_read_message",
    "DEPOSIT_DOMAIN",
    "AUDIT_READ_DOMAIN",
    "ReleaseContext",
    "ENCLAVE_GUARDS",
    "RESOURCE_GUARDS",
    "guard_certificate_valid",
    "guard_measurement_allowed",
    "guard_order_accepted",
    "guard_resource_in_order",
    "guard_policy_allows",
    *_error_names,
]
