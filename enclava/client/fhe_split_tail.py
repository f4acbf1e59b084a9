"""Sending obfuscated activations to the model owner's tail, directly or through the marketplace
API."""

from __future__ import annotations

import httpx
import numpy as np

from enclava.client.errors import TailRefused, TailUnavailable
from enclava.service_http import refusal, send

__all__ = ["tail_predict", "market_tail_url", "direct_tail_url"]


def market_tail_url(market_api: str, model_id: int, split: str) -> str:
    """The marketplace's forwarding route to the tail a model listing names."""
    return f"{market_api.rstrip('/')}/v1/models/{int(model_id)}/tail/{split}"


def direct_tail_url(tail_base: str, split: str) -> str:
    return f"{tail_base.rstrip('/')}/v1/tail/{split}"


def tail_predict(
    url: str, activations: np.ndarray, *, timeout: float = 60.0
) -> tuple[list[int], np.ndarray]:
    """POST ``[n, d]`` activations; the tail's labels and class probabilities."""
    acts = np.asarray(activations, dtype=np.float64)
    with httpx.Client(timeout=timeout) as http:
        reply = send(http, "POST", url, TailUnavailable, json={"activations": acts.tolist()})
    if reply.status_code >= 400:
        raise refusal(reply, TailRefused, url)
    body = reply.json()
    labels = [int(v) for v in body["labels"]]
    if len(labels) != len(acts):
        raise TailRefused(f"the tail answered {len(labels)} labels for {len(acts)} inputs")
    return labels, np.asarray(body["probabilities"], dtype=np.float64)
