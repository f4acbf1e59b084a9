"""Train the shipped chat model from CPython's pydoc topics, reproducibly, on the CPU.

``python -m engines.chat_model.train --out DIR [--steps N] [--seed S] [--tiny]``

1. Read the text (:mod:`engines.chat_model.corpus`), hold out every tenth topic.
2. Train a byte-level BPE tokenizer with ``tokenizers`` on the training topics only.
3. Train a small ``LlamaForCausalLM`` on random windows of the token stream: fixed seeds, torch's
   deterministic algorithms, a fixed thread count, no dropout, so two runs on one machine (same
   CPU kind, same torch) write the same bytes.
4. Save a Hugging Face folder (``save_pretrained``: config, safetensors weights, generation config,
   tokenizer with a chat template) and ``training.json`` with the run's numbers.

``--tiny`` swaps in a test-size model and vocabulary (for the reproducibility test); the shipped
folder ``engines/chat_model/pydoc-tiny/`` is the default settings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from engines.chat_model.corpus import Corpus, load_corpus

__all__ = ["CHAT_TEMPLATE", "Settings", "DEFAULT", "TINY", "perplexity", "train", "main"]

BOS, EOS, PAD = "<|bos|>", "<|endoftext|>", "<|pad|>"
#: each message's text and a blank line (a paragraph break, as in the topics); the model continues
#: the last paragraph's topic as the assistant; ``add_generation_prompt`` adds nothing more
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{{ message['content'] }}\n\n{% endfor %}"
)


@dataclass(frozen=True)
class Settings:
    """Everything that decides the trained bytes (written to ``training.json``)."""

    vocab_size: int = 2048
    hidden_size: int = 192
    intermediate_size: int = 512
    layers: int = 4
    heads: int = 4
    context: int = 256
    batch_size: int = 16
    steps: int = 600
    learning_rate: float = 3e-3
    warmup_steps: int = 60
    weight_decay: float = 0.1
    seed: int = 0
    threads: int = 2
    dtype: str = "float32"


DEFAULT = Settings()
TINY = Settings(
    vocab_size=512, hidden_size=32, intermediate_size=64, layers=1, heads=2, context=64,
    batch_size=4, steps=2, warmup_steps=1,
)  # fmt: skip


def train_tokenizer(corpus: Corpus, vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE on the training topics, wrapped for transformers with the chat template."""
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one thread: merge order never depends on it
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(corpus.train, trainer=trainer)
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        chat_template=CHAT_TEMPLATE,
        model_max_length=DEFAULT.context,
        clean_up_tokenization_spaces=False,
    )


def token_stream(tokenizer: PreTrainedTokenizerFast, texts: Sequence[str]) -> torch.Tensor:
    """``bos text eos`` for each document, concatenated into one 1-D tensor of ids."""
    ids: list[int] = []
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    assert isinstance(bos, int) and isinstance(eos, int)
    for text in texts:
        ids += [bos, *tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"], eos]
    return torch.tensor(ids, dtype=torch.long)


def build_model(settings: Settings, tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=settings.hidden_size,
        intermediate_size=settings.intermediate_size,
        num_hidden_layers=settings.layers,
        num_attention_heads=settings.heads,
        num_key_value_heads=settings.heads,
        max_position_embeddings=settings.context,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


@torch.no_grad()
def perplexity(
    model: LlamaForCausalLM, stream: torch.Tensor, context: int, max_windows: int | None = None
) -> tuple[float, float]:
    """Mean next-token loss (nats) and its perplexity over non-overlapping windows of ``stream``."""
    model.train(False)
    total, count = 0.0, 0
    starts = range(0, len(stream) - 1, context)
    for n, start in enumerate(starts):
        if max_windows is not None and n >= max_windows:
            break
        window = stream[start : start + context + 1].unsqueeze(0)
        if window.shape[1] < 2:
            break
        logits = model(input_ids=window[:, :-1]).logits.float()
        loss = torch.nn.functional.cross_entropy(logits[0], window[0, 1:], reduction="sum").item()
        total, count = total + loss, count + window.shape[1] - 1
    mean = total / count
    return mean, math.exp(mean)


def _learning_rate(settings: Settings, step: int) -> float:
    if step < settings.warmup_steps:
        return settings.learning_rate * (step + 1) / settings.warmup_steps
    span = max(1, settings.steps - settings.warmup_steps)
    progress = (step - settings.warmup_steps) / span
    return settings.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def _fit(settings: Settings, model: LlamaForCausalLM, stream: torch.Tensor) -> float:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": settings.weight_decay},
            {"params": rest, "weight_decay": 0.0},
        ],
        lr=settings.learning_rate,
        betas=(0.9, 0.95),
    )
    windows = torch.Generator().manual_seed(settings.seed)
    model.train()
    smoothed = float("nan")
    for step in range(settings.steps):
        high = len(stream) - settings.context - 1
        starts = torch.randint(0, high, (settings.batch_size,), generator=windows)
        batch = torch.stack([stream[s : s + settings.context] for s in starts.tolist()])
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(settings, step)
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        value = loss.item()
        smoothed = value if math.isnan(smoothed) else 0.95 * smoothed + 0.05 * value
        if step % 100 == 0 or step == settings.steps - 1:
            print(f"step {step:5d}  loss {value:.3f}  (smoothed {smoothed:.3f})", file=sys.stderr)
    return smoothed


@contextlib.contextmanager
def _deterministic(settings: Settings) -> Iterator[None]:
    """Seeded, deterministic kernels, fixed threads; the caller's torch settings come back after."""
    threads, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.manual_seed(settings.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(settings.threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(strict)
        torch.set_num_threads(threads)


def train(settings: Settings, out: Path) -> dict[str, object]:
    """Train with ``settings`` and save the model folder to ``out``; returns ``training.json``."""
    began = time.monotonic()
    with _deterministic(settings):
        return _train(settings, out, began)


def _train(settings: Settings, out: Path, began: float) -> dict[str, object]:
    corpus = load_corpus()
    tokenizer = train_tokenizer(corpus, settings.vocab_size)
    train_ids = token_stream(tokenizer, corpus.train)
    held_ids = token_stream(tokenizer, corpus.held_out)
    model = build_model(settings, tokenizer)
    final_loss = _fit(settings, model, train_ids)
    held_loss, held_ppl = perplexity(model, held_ids, settings.context)
    model = model.to(getattr(torch, settings.dtype))
    model.generation_config = GenerationConfig(  # type: ignore[no-untyped-call]
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    record: dict[str, object] = {
        "model": "pydoc-tiny (LlamaForCausalLM)",
        "settings": asdict(settings),
        "data": "pydoc_data.topics of CPython (sorted topic names, texts concatenated)",
        "data_sha256": corpus.sha256,
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "train_topics": len(corpus.train_names),
        "held_out_topics": list(corpus.held_out_names),
        "train_tokens": len(train_ids),
        "held_out_tokens": len(held_ids),
        "vocab_size": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
        "final_train_loss": round(final_loss, 4),
        "held_out_loss": round(held_loss, 4),
        "held_out_perplexity": round(held_ppl, 2),
        "uniform_perplexity": len(tokenizer),
        "wall_seconds": round(time.monotonic() - began, 1),
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engines.chat_model.train", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder to write the model to")
    parser.add_argument("--steps", type=int, help="optimizer steps (default: the settings')")
    parser.add_argument("--seed", type=int, default=DEFAULT.seed)
    parser.add_argument("--tiny", action="store_true", help="test-size model and vocabulary")
    args = parser.parse_args(argv)
    settings = replace(TINY if args.tiny else DEFAULT, seed=args.seed)
    if args.steps is not None:
        settings = replace(settings, steps=args.steps)
    record = train(settings, args.out)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
