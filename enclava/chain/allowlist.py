"""The measurement allow-list on chain: the attestation registry's ``isMeasurementAllowed``.

It implements :class:`enclava.attestation.verifiers.MeasurementAllowList` (``TeeType``, raw
measurement bytes), so the CA's evidence verifier, its key broker, the loader and the clients that
verify the CA's own evidence all read the same list the same way.
"""

from __future__ import annotations

from enclava.chain.contracts import ContractSet
from enclava.chain.types import measurement_digest
from enclava.protocol.tee import TeeType, onchain_tee

__all__ = ["OnChainAllowList"]


class OnChainAllowList:
    """``MeasurementAllowList`` over the attestation registry (one RPC call per question)."""

    def __init__(self, contracts: ContractSet) -> None:
        self._registry = contracts.attestation_registry

    def is_allowed(self, tee_type: TeeType, measurement: bytes) -> bool:
        """True only if the registry lists ``measurement`` (launch measurement) for ``tee_type``."""
        tee = int(onchain_tee(TeeType(tee_type), simulated=False))
        digest = measurement_digest(measurement)
        return bool(self._registry.functions.isMeasurementAllowed(tee, digest).call())
