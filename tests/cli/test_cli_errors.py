"""The CLI answers user mistakes with a message and a hint, never a stack trace."""

from __future__ import annotations

from typer.testing import CliRunner

from enclava.cli.main import app

runner = CliRunner()


def test_status_of_a_devnet_that_is_not_running(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCLAVA_DEVNET_HOME", str(tmp_path))
    result = runner.invoke(app, ["devnet", "status", "--name", "nope"])
    assert result.exit_code == 1
    assert "not running" in result.output


def test_logs_of_an_unknown_service_is_a_friendly_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCLAVA_DEVNET_HOME", str(tmp_path))
    result = runner.invoke(app, ["devnet", "logs", "ipfs", "--name", "nope"])
    assert result.exit_code == 1
    assert "devnet_error" in result.output and "hint" in result.output
    assert "Traceback" not in result.output


def test_invalid_devnet_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("ENCLAVA_DEVNET_HOME", str(tmp_path))
    result = runner.invoke(app, ["devnet", "down", "--name", "../etc"])
    assert result.exit_code == 1 and "invalid devnet name" in result.output


def test_version():
    assert runner.invoke(app, ["version"]).output.strip() == "0.1.0"
