"""Provider settings: the insecure switch strict by default; old names deprecated, not broken."""

from __future__ import annotations

import pytest

from enclava.errors import ConfigError
from provider_node.runtime import Runtime
from provider_node.settings import ProviderSettings


def test_the_simulated_tee_is_off_by_default() -> None:
    assert ProviderSettings().insecure_allow_simulated_tee is False


def test_a_simulated_node_without_the_switch_does_not_start() -> None:
    with pytest.raises(ConfigError, match="PROVIDER_INSECURE_ALLOW_SIMULATED_TEE"):
        Runtime.build(ProviderSettings(tee="simulated"))


def test_the_old_name_still_works_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match="insecure_allow_simulated_tee"):
        settings = ProviderSettings(insecure_simulated_tee=True)
    assert settings.insecure_allow_simulated_tee is True


def test_the_old_offers_table_still_works_with_a_deprecation_warning():
    with pytest.warns(FutureWarning, match="tee_offers"):
        settings = ProviderSettings(offers=[{"tee_type": "tdx", "slots": 4}])
    assert [(o.tee_type, o.slots) for o in settings.tee_offers] == [("tdx", 4)]
