"""`enclava engine ...`: engine owners: try an engine on this machine before publishing it.

`engine test DIR` runs the engine exactly as an order would inside the enclave — from its canonical
archive, with the files laid out as an order's resources and inputs, in the real sandbox with the
manifest's limits — and prints the engine hash, the outputs, or the failure in words with the
engine's stderr. The run itself is the trusted loader's program ``python -m
trusted_loader.try_engine`` (the CLI may not import the loader), which answers with one JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from enclava.cli.errors import EngineFolderInvalid, EngineFolderMissing, FileInvalid, FileMissing
from enclava.cli.values import ORDER_ID
from enclava.console import err_console, friendly_errors
from enclava.errors import ConfigError

__all__ = ["app", "test"]

app = typer.Typer(
    help="Engine owners: try an engine locally in the real sandbox before publishing it.",
    no_args_is_help=True,
)
console = Console()
_INVALID_ENGINE = {"engine_manifest_invalid", "engine_archive_invalid"}
_SANDBOX = {"sandbox_unavailable", "sandbox_cgroup_unavailable", "sandbox_seccomp_unavailable"}
#: What an engine's owner does next, where the sandbox error's own hint speaks to someone else.
_OWNER_HINTS = {
    "engine_failed": "Its error output is below: fix the engine (or the input) and run "
    "`enclava engine test` again.",
}
_HASH_NOTE = (
    "the SHA-256 of the engine's canonical archive, the same on every machine for the same files. "
    "On chain, a published engine's engineHash is the SHA-256 of its ciphertext instead, different "
    "for each upload (`enclava model publish` prints it); key policies' allowed_engine_hashes "
    "name that on-chain value."
)


@app.callback()
def _group() -> None:
    """Engine owners: try an engine locally in the real sandbox before publishing it."""


def _check_files(paths: list[Path], flag: str) -> None:
    for path in paths:
        if not path.is_file():
            raise FileMissing(f"no {flag} file at {path}", hint=f"Check the {flag} path.")


def _check_out(out: Path | None) -> None:
    if out is not None and (out.exists() and (not out.is_dir() or any(out.iterdir()))):
        raise FileInvalid(
            f"{out} is not an empty folder", hint="Name a new or empty folder for --out."
        )


def _run(argv: list[str]) -> dict[str, Any]:
    """Run the loader's program; its one JSON line, or a typed error when it gave none."""
    from enclava.protocol.engine.errors import SandboxUnavailable

    command = [sys.executable, "-m", "trusted_loader.try_engine", *argv]
    with err_console.status("running the engine in the sandbox"):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "ok" not in answer:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise SandboxUnavailable(
            f"the local run (`python -m trusted_loader.try_engine`) gave no answer "
            f"(exit {done.returncode}): {last}",
            hint="It ships with the trusted loader: run the command from an Enclava checkout "
            "(`make bootstrap`), as root, on Linux with namespaces and cgroups.",
        )
    return answer


def _mib(value: int | None) -> str:
    return "?" if value is None else f"{value / (1 << 20):.0f} MiB"


def _usage(answer: dict[str, Any]) -> str | None:
    run, limits = answer.get("run"), answer.get("limits") or {}
    if not run:
        return None
    memory = run.get("memory_peak_bytes") or run.get("peak_rss_bytes")
    return (
        f"wall {run['wall_seconds']:g} s of {limits.get('wall_seconds', '?')}, "
        f"CPU {run['cpu_seconds']:g} s of {limits.get('cpu_seconds', '?')}, "
        f"memory peak {_mib(memory)} of {limits.get('memory_mb', '?')} MiB, "
        f"outputs {run['output_bytes']} bytes of {limits.get('output_bytes', '?')}"
    )


def _print_hash(answer: dict[str, Any]) -> None:
    digest = answer.get("engine_hash")
    if digest:
        console.print(f"[bold]engine hash[/] {digest}", highlight=False)
        console.print(f"[dim]{_HASH_NOTE}[/]", highlight=False)
        typer.echo(f"engine_hash={digest}")


def _print_outputs(answer: dict[str, Any], out: Path | None) -> None:
    console.print(f"[green]engine ok[/]: {_usage(answer)}", highlight=False)
    for item in answer.get("outputs", []):
        name = f" [dim]({escape(item['name'])})[/]" if item.get("name") else ""
        size = f"{item['bytes']} bytes"
        console.print(f"[bold]{escape(item['file'])}[/]{name} {size}", highlight=False)
        if "text" in item:
            console.print(item["text"], markup=False, highlight=False, soft_wrap=True)
    if out is not None:
        console.print(f"outputs written to {escape(str(out))}", highlight=False)
    typer.echo("ok=true")


def _print_failure(answer: dict[str, Any]) -> None:
    reason, error = answer["reason"], answer["error"]
    what = "engine failed" if answer.get("run") else "the engine did not start"
    err_console.print(
        f"[bold red]{what}[/]: {escape(reason['title'])} ({escape(reason['name'])}, reason "
        f"{reason['code']})",
        highlight=False,
    )
    err_console.print(f"  {error['message']}", markup=False, highlight=False)
    usage = _usage(answer)
    if usage:
        err_console.print(f"  used: {usage}", highlight=False)
    hint = _OWNER_HINTS.get(reason["name"]) or error.get("hint") or reason["hint"]
    err_console.print(f"[yellow]hint[/]: {escape(hint)}", highlight=False)
    tail = answer.get("stderr_tail") or ""
    if tail:
        err_console.print("[bold]engine stderr[/] (last lines):")
        err_console.print(tail, markup=False, highlight=False, soft_wrap=True)
    typer.echo(f"ok=false reason={reason['name']}")


def _raise_setup_error(answer: dict[str, Any], folder: Path) -> None:
    """Failures before the engine ran (the folder, the sandbox) are the CLI's typed errors."""
    from enclava.protocol.engine.errors import SandboxUnavailable

    error = answer["error"]
    if error["code"] in _INVALID_ENGINE:
        raise EngineFolderInvalid(
            f"{folder} is not a valid engine: {error['message']}", hint=error["hint"] or None
        )
    if error["code"] in _SANDBOX:
        raise SandboxUnavailable(error["message"], hint=error["hint"] or None)


def _check_inputs_against_schema(engine_dir: Path, inputs: list[Path]) -> None:
    """A customer's file that the engine's declared input schema refuses is refused here too, in
    the words `order create` uses before payment (``InputSchemaMismatch``)."""
    from enclava.client.preflight import MAX_CHECKED_INPUT_BYTES, check_input_against_schema
    from enclava.protocol.engine import EngineError, load_manifest
    from enclava.protocol.engine.manifest import load_input_schema

    try:
        schema = load_input_schema(engine_dir, load_manifest(engine_dir))
    except EngineError:
        return  # the run reports an invalid engine (or schema) in its own words
    if schema is None:
        return
    for path in inputs:
        if path.stat().st_size <= MAX_CHECKED_INPUT_BYTES:
            check_input_against_schema(path, schema)


@app.command()
@friendly_errors
def test(
    engine_dir: Path = typer.Argument(
        ..., metavar="DIR", help="Engine folder (engine.toml + code), see engines/FORMAT.md."
    ),
    weights: list[Path] = typer.Option(
        [],
        "--weights",
        dir_okay=False,
        metavar="FILE",
        help="A model file, as a model resource (repeat).",
    ),
    dataset: list[Path] = typer.Option(
        [],
        "--dataset",
        dir_okay=False,
        metavar="FILE",
        help="A dataset file, as a dataset resource (repeat).",
    ),
    input_: list[Path] = typer.Option(
        [], "--input", dir_okay=False, metavar="FILE", help="A customer's input file (repeat)."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        file_okay=False,
        metavar="DIR",
        help="Write the outputs into this new or empty folder.",
    ),
    order_id: str | None = typer.Option(
        None, "--order-id", metavar="ID", help="Run with this order's seed and ENCLAVA_ORDER_ID."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the run's JSON answer."),
) -> None:
    """Run an engine as an order would: its archive, the input layout, the sandbox and limits."""
    if not engine_dir.is_dir():
        raise EngineFolderMissing(f"no engine folder at {engine_dir}")
    _check_files(weights, "--weights")
    _check_files(dataset, "--dataset")
    _check_files(input_, "--input")
    _check_out(out)
    if order_id is not None and not ORDER_ID.match(order_id):
        raise ConfigError(
            f"{order_id!r} is not an order id", hint="Give 0x and 64 hex digits, or leave it out."
        )
    _check_inputs_against_schema(engine_dir, input_)
    argv = [str(engine_dir)]
    for flag, paths in (("--weights", weights), ("--dataset", dataset), ("--input", input_)):
        for path in paths:
            argv += [flag, str(path)]
    if out is not None:
        argv += ["--out", str(out)]
    if order_id is not None:
        argv += ["--order-id", order_id]
    answer = _run(argv)
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        raise typer.Exit(code=0 if answer["ok"] else 1)
    if not answer["ok"]:
        _raise_setup_error(answer, engine_dir)
    _print_hash(answer)
    if answer["ok"]:
        _print_outputs(answer, out)
        return
    _print_failure(answer)
    raise typer.Exit(code=1)
