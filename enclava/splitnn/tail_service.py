"""The model owner's tail service: obfuscated activations in, class probabilities out.

Routes are thin: parse, look the split up in the model folder, run the numpy tail. Errors use the
one Enclava shape (``enclava.service``): an unknown split is ``unknown_split`` (404), a batch of the
wrong width, a ragged batch or non-finite numbers are ``invalid_activation_shape`` (422).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel, Field

from enclava.service import create_service_app
from enclava.splitnn.errors import ActivationShapeError
from enclava.splitnn.model_format import DEFAULT_MODEL_DIR, load_model

__all__ = ["TailRequest", "TailResponse", "create_tail_app", "serve_tail", "MAX_BATCH"]

MAX_BATCH = 1024


class TailRequest(BaseModel):
    activations: list[list[float]] = Field(
        ..., min_length=1, max_length=MAX_BATCH, description="[n, d] head outputs after obfuscation"
    )


class TailResponse(BaseModel):
    split: str
    labels: list[int]
    probabilities: list[list[float]]


def create_tail_app(model_dir: str | Path = DEFAULT_MODEL_DIR) -> FastAPI:
    model = load_model(model_dir)
    app = create_service_app(
        "enclava-tail", description="Runs a split model's tail on obfuscated activations."
    )
    app.state.model = model

    @app.get("/v1/tail", tags=["tail"])
    def splits() -> dict[str, Any]:
        return {
            "model": model.manifest.get("name"),
            "version": model.manifest.get("version"),
            "splits": {
                name: {"input_dim": model.entry(name)["head"]["output_dim"]}
                for name in model.splits
            },
        }

    @app.post("/v1/tail/{split}", tags=["tail"], response_model=TailResponse)
    def run_tail(split: str, request: TailRequest) -> TailResponse:
        tail = model.tail(split)
        widths = {len(row) for row in request.activations}
        if widths != {tail.input_dim}:
            raise ActivationShapeError(
                f"split {split!r} takes rows of {tail.input_dim} activations, "
                f"got row widths {sorted(widths)[:5]}"
            )
        probs = tail.predict_proba(np.asarray(request.activations, dtype=np.float64))
        return TailResponse(
            split=split,
            labels=probs.argmax(axis=1).tolist(),
            probabilities=np.round(probs, 6).tolist(),
        )

    return app


def serve_tail(
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    host: str = "127.0.0.1",
    port: int = 8470,
    log_level: str = "info",
) -> None:
    """Serve the tail with uvicorn (blocking); ``enclava model serve-tail`` calls this."""
    import uvicorn

    from enclava.logs import configure_logging

    configure_logging(log_level)
    uvicorn.run(
        create_tail_app(model_dir), host=host, port=port, log_config=None, log_level=log_level
    )
