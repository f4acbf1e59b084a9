"""The key broker: the CA's security policy engine for resource keys.

Owners deposit age-encrypted resource keys with a signed policy; certified enclaves obtain an
order's keys, re-wrapped to their own age key, only when every guard passes (:mod:`.guards`, in
order); every decision is appended to the hash-chained audit log, which owners read with a signed
request. The requests, their messages and their builders are protocol
(:mod:`enclava.protocol.broker`); this package verifies and answers them.
"""

from certification_authority.broker.broker import KeyBroker
from certification_authority.broker.chain import (
    ChainView,
    OrderView,
    ServiceStatus,
    ServiceView,
)
from certification_authority.broker.errors import *  # noqa: F403 - the leaves are listed in errors.__all__
from certification_authority.broker.errors import __all__ as _error_names
from certification_authority.broker.guards import (
    ENCLAVE_GUARDS,
    RESOURCE_GUARDS,
    ReleaseContext,
    guard_certificate_valid,
    guard_measurement_allowed,
    guard_order_accepted,
    guard_order_gpu,
    guard_policy_allows,
    guard_resource_in_order,
)
from certification_authority.broker.memory import InMemoryChainView
from certification_authority.broker.models import (
    DepositReceipt,
    DepositStatus,
    Revocation,
    VerifiedEnclave,
    WrappedKey,
)
from enclava.protocol.order import OrderStatus  # the order states the guards check

__all__ = [
    "KeyBroker",
    "ChainView",
    "OrderView",
    "ServiceView",
    "ServiceStatus",
    "OrderStatus",
    "InMemoryChainView",
    "DepositReceipt",
    "DepositStatus",
    "WrappedKey",
    "Revocation",
    "VerifiedEnclave",
    "ReleaseContext",
    "ENCLAVE_GUARDS",
    "RESOURCE_GUARDS",
    "guard_certificate_valid",
    "guard_measurement_allowed",
    "guard_order_accepted",
    "guard_order_gpu",
    "guard_resource_in_order",
    "guard_policy_allows",
    *_error_names,
]
