"""`enclava --help` and `enclava version` start fast: no command module and no heavy library is
imported; a command imports only its own module (issue 15). Checked by what a fresh interpreter has
in ``sys.modules``, never by timing."""

from __future__ import annotations

import json
import subprocess
import sys

import typer
from typer.testing import CliRunner

from enclava.cli.main import SUBCOMMANDS, LazyGroup, Subcommand, app, load_subcommand

HEAVY = ("web3", "eth_account", "torch", "numpy", "fastapi", "tenseal", "httpx", "rich.progress")
COMMAND_MODULES = tuple(entry.target.partition(":")[0] for entry in SUBCOMMANDS.values())

# Runs `enclava ARGS` in a fresh interpreter the way the console script does, then reports which
# of the named modules were imported (on stderr, after the command's own output).
_PROBE = """
import json, sys
from enclava.cli.main import app
watched = json.loads(sys.argv[1])
try:
    app(sys.argv[2:], prog_name="enclava")
except SystemExit:
    pass
print(json.dumps(sorted(name for name in watched if name in sys.modules)), file=sys.stderr)
"""


def _run(*args: str) -> tuple[str, list[str]]:
    """The command's stdout and which of HEAVY + COMMAND_MODULES it imported."""
    watched = json.dumps([*HEAVY, *COMMAND_MODULES])
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, watched, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    imported: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return done.stdout, imported


def test_help_lists_every_command_without_importing_one():
    output, imported = _run("--help")
    assert imported == []
    for name, entry in SUBCOMMANDS.items():
        assert name in output and entry.help[:40] in output
    assert "version" in output


def test_version_imports_no_command_module_and_no_heavy_library():
    output, imported = _run("version")
    assert imported == []
    assert output.strip() == "0.1.0"


def test_a_command_imports_only_its_own_module():
    output, imported = _run("measure", "--help")
    assert "--component" in output
    assert "enclava.cli.measure" in imported
    assert not set(imported) & {"enclava.cli.order", "enclava.cli.fhe", "enclava.cli.model"}
    assert not set(imported) & {"torch", "tenseal", "fastapi"}


def test_each_help_line_is_the_commands_own():
    """The table's help lines (shown by `enclava --help`) match what each module declares."""
    for name, entry in SUBCOMMANDS.items():
        command = load_subcommand(name, entry)
        assert command.name == name
        assert (command.help or "").split("\n")[0].strip() == entry.help, name


def test_option_defaults_match_the_modules_they_stand_in_for():
    from enclava.chain.config import DEFAULT_DEVNET
    from enclava.cli import context
    from enclava.wallet import DEFAULT_WALLET

    assert (context.DEFAULT_DEVNET, context.DEFAULT_WALLET) == (DEFAULT_DEVNET, DEFAULT_WALLET)


def test_a_typo_suggests_the_lazy_command():
    result = CliRunner().invoke(app, ["ordr"])
    assert result.exit_code == 2
    assert "Did you mean 'order'?" in result.output


class _BrokenGroup(LazyGroup):
    lazy = {"ghost": Subcommand("enclava.cli.no_such_module:app", "Not installed.", "group")}


def test_a_command_whose_module_is_missing_fails_only_when_invoked():
    broken = typer.Typer(cls=_BrokenGroup, no_args_is_help=True)

    @broken.callback()
    def _root() -> None:
        pass

    @broken.command()
    def ok() -> None:
        typer.echo("fine")

    runner = CliRunner()
    listed = runner.invoke(broken, ["--help"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "ghost" in listed.output and "Not installed." in listed.output
    assert runner.invoke(broken, ["ok"]).output.strip() == "fine"
    failed = runner.invoke(broken, ["ghost", "anything"])
    assert failed.exit_code == 1
    assert "command_unavailable" in failed.output
    assert "enclava.cli.no_such_module" in failed.output and "hint" in failed.output
    assert "Traceback" not in failed.output
