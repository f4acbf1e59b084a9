"""`--tee-offer` and its deprecated spelling `--offer` (kept for one release), without a devnet."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from enclava.cli.main import app
from enclava.cli.options import OFFER_DEPRECATED, resolve_tee_offer


def _invoke(tmp_path: Path, *args: str):
    missing = tmp_path / "no-such-manifest.json"
    return CliRunner().invoke(app, [*args, "--manifest", str(missing), "--yes"])


@pytest.mark.parametrize("command", [["order", "create"], ["fhe", "order"]])
def test_help_shows_tee_offer_and_hides_offer(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--tee-offer" in result.output
    assert "--offer " not in result.output


def test_deprecated_offer_still_works_and_says_so_on_stderr(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "order", "create", "--engine", "1", "--offer", "5")
    assert OFFER_DEPRECATED in result.stderr
    assert OFFER_DEPRECATED not in result.stdout
    assert result.exit_code == 1  # it got past the options: the missing manifest stops it


def test_tee_offer_prints_no_deprecation(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "order", "create", "--engine", "1", "--tee-offer", "5")
    assert "deprecated" not in result.output
    assert result.exit_code == 1


def test_order_without_a_tee_offer_is_a_usage_error(tmp_path: Path) -> None:
    result = _invoke(tmp_path, "order", "create", "--engine", "1")
    assert result.exit_code == 2 and "--tee-offer" in result.stderr


def test_resolve_tee_offer_prefers_the_new_name_and_accepts_the_old() -> None:
    assert resolve_tee_offer(7, None) == 7
    assert resolve_tee_offer(None, 7) == 7
    assert resolve_tee_offer(7, 7) == 7
    with pytest.raises(typer.BadParameter):
        resolve_tee_offer(7, 8)
    with pytest.raises(typer.BadParameter):
        resolve_tee_offer(None, None)
