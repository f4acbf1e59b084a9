"""``python -m trusted_loader.try_engine DIR [--weights F] [--dataset F] [--input F] [--out DIR]``:
run an engine folder on this machine the way an order runs it inside the enclave, before it is
published (``enclava engine test`` calls it; the CLI may not import the loader, so it is a program).

Exactly the enclave's path, minus the chain and the keys: the folder is packed into its canonical
archive (whose SHA-256 is the engine hash) and unpacked from those bytes into a private scratch
area (``trusted_loader.scratch.Scratch``), so a file the archive leaves out (a cache, a link) is
missing here too; the files are laid out as an order's resources and inputs would be
(``trusted_loader.layout``: ``--weights`` are model resources, ``--dataset`` dataset resources,
``--input`` the customer's files, each in the order given); the engine runs in the real sandbox
(``trusted_loader.sandbox.run_engine``) with the manifest's own limits and an order's seed; the
outputs are packed and unpacked into ``--out`` as the customer would receive them. A declared input
schema must load, as ``enclava model publish`` requires (checking a customer's file against it is
``order create``'s pre-flight, not the enclave's).

It prints one JSON line on stdout and exits 0 when the engine succeeded, 1 when it did not::

    {"ok": true, "engine_hash": "<hex>", "outputs": [{"name", "file", "bytes", "text"?}],
     "run": {...}, "limits": {...}}
    {"ok": false, "engine_hash": "<hex>" | null, "reason": {"code", "name", "title", "hint"},
     "error": {"code", "message", "hint"}, "message": "...", "stderr_tail": "...",
     "run": {...} | null, "limits": {...} | null}

``run`` is what the sandbox measured (wall and CPU seconds, peak memory, output bytes), ``limits``
the manifest's limits it ran under.

``text`` is the content of a small UTF-8 output (at most :data:`TEXT_PREVIEW_BYTES`). The sandbox
needs root and namespaces; without them the answer is ``sandbox_unavailable`` with its hint.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from enclava.chain.types import ResourceKind
from enclava.errors import EnclavaError
from enclava.protocol.engine import (
    canonical_archive,
    describe_reason,
    order_seed,
    pack_outputs,
    unpack_engine,
    unpack_outputs,
)
from enclava.protocol.engine.errors import EngineManifestInvalid
from enclava.protocol.engine.manifest import EngineManifest, load_input_schema
from trusted_loader.errors import InputsDoNotFitEngine, InputUnavailable, reason_code_of
from trusted_loader.layout import lay_out_inputs
from trusted_loader.sandbox import EngineRun, run_engine
from trusted_loader.scratch import Scratch

__all__ = ["TEXT_PREVIEW_BYTES", "TRY_ORDER_ID", "main", "try_engine"]

TEXT_PREVIEW_BYTES = 4096
#: The order id a local run pretends to be (``ENCLAVA_ORDER_ID``; the seed derives from it).
TRY_ORDER_ID = "0x" + "00" * 32
_LAYOUT_HINT = (
    "Pass one --weights FILE per model input, --dataset FILE per dataset input and --input FILE "
    'per customer input that engine.toml declares (count = "one" takes exactly one).'
)


def _read(paths: Sequence[Path], flag: str) -> list[bytes]:
    data = []
    for path in paths:
        try:
            data.append(Path(path).read_bytes())
        except OSError as exc:
            raise InputUnavailable(
                f"cannot read {flag} {path}: {exc.strerror or exc}", hint="Check the path."
            ) from exc
    return data


def _outputs(manifest: EngineManifest, run: EngineRun, output_dir: Path) -> list[dict[str, Any]]:
    names = {spec.file: spec.name for spec in manifest.outputs}
    shown: list[dict[str, Any]] = []
    for file, size in sorted(run.outputs.items()):
        item: dict[str, Any] = {"name": names.get(file), "file": file, "bytes": size}
        if size <= TEXT_PREVIEW_BYTES:
            try:
                item["text"] = (output_dir / file).read_bytes().decode("utf-8")
            except (OSError, UnicodeDecodeError):
                pass
        shown.append(item)
    return shown


def _run_facts(run: EngineRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "exit_code": run.exit_code,
        "wall_seconds": round(run.wall_seconds, 3),
        "cpu_seconds": round(run.cpu_seconds, 3),
        "peak_rss_bytes": run.peak_rss_bytes,
        "memory_peak_bytes": run.memory_peak_bytes,
        "output_bytes": run.output_bytes,
    }


def try_engine(
    folder: Path,
    *,
    weights: Sequence[Path] = (),
    datasets: Sequence[Path] = (),
    inputs: Sequence[Path] = (),
    out: Path | None = None,
    order_id: str = TRY_ORDER_ID,
    scratch_root: Path | None = None,
) -> dict[str, Any]:
    """Run the engine in ``folder`` as an order would; return the answer's JSON object (raises
    nothing for a failure of the engine or its layout: it is the answer)."""
    digest: str | None = None
    limits: dict[str, int] | None = None
    try:
        archive = canonical_archive(folder)
        digest = hashlib.sha256(archive).hexdigest()
        resources = [(ResourceKind.MODEL, d) for d in _read(weights, "--weights")]
        resources += [(ResourceKind.DATASET, d) for d in _read(datasets, "--dataset")]
        plain_inputs = _read(inputs, "--input")
        with Scratch(scratch_root, prefix="enclava-try-") as scratch:
            engine_dir = scratch.sub("engine", mode=0o755)
            try:
                manifest = unpack_engine(archive, engine_dir)
                load_input_schema(engine_dir, manifest)  # `model publish` would refuse a bad one
            except EngineManifestInvalid as exc:  # name the owner's folder, not the scratch copy
                raise EngineManifestInvalid(
                    exc.message.replace(str(engine_dir), str(folder)), hint=exc.hint
                ) from exc
            limits = manifest.limits.model_dump()
            try:
                input_dir = lay_out_inputs(manifest, resources, plain_inputs, scratch.sub("inputs"))
            except InputsDoNotFitEngine as exc:
                raise InputsDoNotFitEngine(exc.message, hint=_LAYOUT_HINT) from exc
            del resources, plain_inputs
            output_dir = scratch.sub("outputs")
            run = run_engine(
                engine_dir,
                manifest,
                input_dir,
                output_dir,
                seed=order_seed(order_id),
                order_id=order_id,
                scratch=scratch,
            )
            outputs = _outputs(manifest, run, output_dir)
            if out is not None:
                unpack_outputs(pack_outputs(output_dir), out)
    except EnclavaError as exc:
        return _failure(digest, limits, exc, exc.code, exc.message, exc.hint)
    except Exception as exc:  # a bug of ours: still one JSON line, never a traceback
        message = f"{type(exc).__name__}: {exc}"
        return _failure(digest, limits, exc, "internal_error", message, "")
    return {
        "ok": True,
        "engine_hash": digest,
        "outputs": outputs,
        "run": _run_facts(run),
        "limits": limits,
    }


def _failure(
    digest: str | None,
    limits: dict[str, int] | None,
    error: BaseException,
    code: str,
    message: str,
    hint: str,
) -> dict[str, Any]:
    reason = describe_reason(reason_code_of(error))
    return {
        "ok": False,
        "engine_hash": digest,
        "limits": limits,
        "reason": {
            "code": reason.code,
            "name": reason.name,
            "title": reason.title,
            "hint": reason.hint,
        },
        "error": {"code": code, "message": message, "hint": hint},
        "message": message,
        # the engine's own words, unmasked: this is the owner's machine and the owner's engine
        "stderr_tail": str(getattr(error, "raw_stderr_tail", "") or ""),
        "run": _run_facts(getattr(error, "run", None)),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trusted_loader.try_engine",
        description="Run an engine folder in the real sandbox as an order would.",
    )
    parser.add_argument("folder", type=Path, help="the engine folder (holds engine.toml)")
    parser.add_argument("--weights", type=Path, action="append", default=[], help="model file")
    parser.add_argument("--dataset", type=Path, action="append", default=[], help="dataset file")
    parser.add_argument("--input", type=Path, action="append", default=[], help="customer file")
    parser.add_argument("--out", type=Path, help="an empty or new folder for the outputs")
    parser.add_argument("--order-id", default=TRY_ORDER_ID, help="run with this order's seed")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    answer = try_engine(
        args.folder,
        weights=args.weights,
        datasets=args.dataset,
        inputs=args.input,
        out=args.out,
        order_id=args.order_id,
    )
    sys.stdout.write(json.dumps(answer, separators=(",", ":")) + "\n")
    sys.stdout.flush()
    return 0 if answer["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
