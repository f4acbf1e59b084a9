"""The key broker's wire protocol, from the side of whoever deposits keys or reads the audit log.

- :mod:`.fields`    each request field normalized to one spelling (addresses, bytes32, uint256...)
- :mod:`.models`    the requests: ``KeyPolicy``, ``DepositRequest``, ``OrderInputsDeposit``,
                    ``AuditReadRequest``
- :mod:`.signing`   the canonical messages their wallets sign, and the EIP-191 text signature
- :mod:`.requests`  the builders (encrypt to the CA, sign) and the check of the CA's audit view

The CA (``certification_authority.broker``) verifies with the same builders; the enclave's side of
the exchange is :mod:`enclava.protocol.key_release`.
"""

from enclava.protocol.broker.models import (
    AuditReadRequest,
    DepositRequest,
    KeyPolicy,
    OrderInputsDeposit,
)
from enclava.protocol.broker.requests import (
    build_audit_request,
    build_deposit_request,
    build_order_inputs_deposit,
    check_audit_view,
)
from enclava.protocol.broker.signing import (
    AUDIT_READ_DOMAIN,
    DEFAULT_SIGNATURE_WINDOW_S,
    DEPOSIT_DOMAIN,
    MAX_CLOCK_SKEW_S,
    ORDER_INPUTS_DOMAIN,
    audit_read_message,
    deposit_message,
    order_inputs_message,
    recover_text_signer,
    sign_text,
)

__all__ = [
    "KeyPolicy",
    "DepositRequest",
    "OrderInputsDeposit",
    "AuditReadRequest",
    "build_deposit_request",
    "build_order_inputs_deposit",
    "build_audit_request",
    "check_audit_view",
    "DEPOSIT_DOMAIN",
    "AUDIT_READ_DOMAIN",
    "ORDER_INPUTS_DOMAIN",
    "DEFAULT_SIGNATURE_WINDOW_S",
    "MAX_CLOCK_SKEW_S",
    "deposit_message",
    "audit_read_message",
    "order_inputs_message",
    "sign_text",
    "recover_text_signer",
]
