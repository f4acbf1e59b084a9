"""The running batch's key/value cache: one row per request, left-padded to the longest.

Each request is prefilled alone (its own fresh cache), then joins the batch; every decoding step
runs all rows at once with an attention mask that hides the padding and position ids that count
each row's own tokens. A request that ends leaves at once: its rows of every layer are dropped, and
columns that only padding still used are trimmed. Nothing is shared between rows (no prefix cache).
Works for caches of plain full-attention layers (``DynamicLayer``: Llama, Qwen2, Mistral without
a sliding window, GPT-2, ...); :func:`batchable` says whether a model's cache is such.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["KvBatch", "batchable", "fresh_cache"]


def fresh_cache(model: Any) -> Any:
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def batchable(model: Any) -> bool:
    """Whether the model's cache is made of plain ``DynamicLayer`` layers, which rows can be
    padded, stacked and dropped from."""
    from transformers.cache_utils import DynamicLayer

    try:
        layers = fresh_cache(model).layers
    except Exception:  # a model transformers builds no DynamicCache for (e.g. state-space)
        return False
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def _left_pad(tensor: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    if size == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = size
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


class KvBatch:
    """Rows' caches stacked on dim 0 (``[rows, heads, columns, head_dim]`` per layer) with the
    ``[rows, columns]`` mask of real (1) and padding (0) columns."""

    def __init__(self) -> None:
        self.cache: Any = None
        self.mask: torch.Tensor | None = None

    @property
    def rows(self) -> int:
        return 0 if self.mask is None else int(self.mask.shape[0])

    @property
    def columns(self) -> int:
        return 0 if self.mask is None else int(self.mask.shape[1])

    def add(self, cache: Any, length: int, device: torch.device) -> None:
        """Append one request's prefilled cache (one row, ``length`` columns) as the last row."""
        row_mask = torch.ones((1, length), dtype=torch.long, device=device)
        if self.cache is None or self.mask is None:
            self.cache, self.mask = cache, row_mask
            return
        columns = max(self.columns, length)
        grow, pad = columns - self.columns, columns - length
        for mine, theirs in zip(self.cache.layers, cache.layers, strict=True):
            mine.keys = torch.cat([_left_pad(mine.keys, grow, 2), _left_pad(theirs.keys, pad, 2)])
            mine.values = torch.cat(
                [_left_pad(mine.values, grow, 2), _left_pad(theirs.values, pad, 2)]
            )
        self.mask = torch.cat([_left_pad(self.mask, grow, 1), _left_pad(row_mask, pad, 1)])

    def keep(self, rows: list[int]) -> None:
        """Keep only ``rows`` (in this order); the others' cache is dropped."""
        if self.mask is None:
            return
        if not rows:
            self.cache, self.mask = None, None
            return
        index = torch.tensor(rows, dtype=torch.long, device=self.mask.device)
        mask = self.mask.index_select(0, index)
        used = torch.nonzero(mask.sum(dim=0) > 0)
        first = int(used[0].item())
        for layer in self.cache.layers:
            layer.keys = layer.keys.index_select(0, index)[:, :, first:]
            layer.values = layer.values.index_select(0, index)[:, :, first:]
        self.mask = mask[:, first:]

    def step_mask(self) -> torch.Tensor:
        """The attention mask of a step that adds one column to every row; becomes the mask."""
        assert self.mask is not None
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1)
        return self.mask
