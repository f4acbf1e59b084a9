"""`enclava model serve-tail`: the model owner's half of a split model, served over HTTP.

The tail receives only obfuscated activations (from the enclave, or from the customer in
customer-decrypt mode) and answers with class probabilities; it never sees an input image.
"""

from __future__ import annotations

from pathlib import Path

import typer

from enclava.console import friendly_errors

__all__ = ["serve_tail_command"]


@friendly_errors
def serve_tail_command(
    model_dir: Path | None = typer.Option(
        None,
        "--model-dir",
        exists=True,
        file_okay=False,
        help="Split-model folder (model.json + weights) with the tail layers "
        "(default: the shipped engines/splitnn_model).",
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8470, help="TCP port to listen on."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
) -> None:
    """Serve the tail layers of a split model on obfuscated activations (blocks until Ctrl-C)."""
    # numpy and the HTTP server load only when the tail is served (CLI start-up, issue 15)
    from enclava.splitnn.model_format import DEFAULT_MODEL_DIR
    from enclava.splitnn.tail_service import serve_tail

    serve_tail(model_dir or DEFAULT_MODEL_DIR, host=host, port=port, log_level=log_level)
