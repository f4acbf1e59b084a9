"""Choosing the next token of one request from its logits: greedy at temperature 0, else
temperature + nucleus (top_p) sampling with the request's own generator (seeded when the request
gives ``seed``), so a request's tokens never depend on the others in its batch."""

from __future__ import annotations

import dataclasses

import torch

__all__ = ["SamplingParams", "make_generator", "next_token"]


@dataclasses.dataclass(frozen=True)
class SamplingParams:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False  # vLLM's extension: run to max_tokens (benchmarks)


def make_generator(seed: int | None) -> torch.Generator:
    """A CPU generator of the request's own: ``seed`` when given, else fresh entropy."""
    generator = torch.Generator(device="cpu")
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed % (2**64))
    return generator


def next_token(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator) -> int:
    """One token id from a ``[vocab]`` row of logits."""
    row = logits.detach().to(device="cpu", dtype=torch.float32)
    if params.temperature <= 0.0:
        return int(torch.argmax(row).item())
    probs = torch.softmax(row / params.temperature, dim=-1)
    if params.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(sorted_probs, dim=-1)
        keep = cumulative - sorted_probs < params.top_p  # the first token is always kept
        sorted_probs = torch.where(keep, sorted_probs, torch.zeros_like(sorted_probs))
        choice = torch.multinomial(sorted_probs, 1, generator=generator)
        return int(order[choice].item())
    return int(torch.multinomial(probs, 1, generator=generator).item())
