"""The shipped chat model (engines/chat_model/pydoc-tiny): loads offline, predicts held-out pydoc
text far better than chance, writes words of the training text, and its training repeats itself
byte for byte."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from engines.chat_model import SHIPPED_MODEL
from engines.chat_model.corpus import load_corpus, words_of
from engines.chat_model.train import main, perplexity, token_stream

PROMPTS = ("The for statement", "A string is", "Classes can define", "The value of")


@pytest.fixture(scope="module")
def record() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (SHIPPED_MODEL / "training.json").read_text(encoding="utf-8")
    )
    return loaded


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(SHIPPED_MODEL, local_files_only=True)


@pytest.fixture(scope="module")
def model() -> Any:
    loaded = AutoModelForCausalLM.from_pretrained(
        SHIPPED_MODEL, local_files_only=True, dtype=torch.float32
    )
    return loaded.train(False)


def test_shipped_folder_is_small_and_complete() -> None:
    names = {p.name for p in SHIPPED_MODEL.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json", "tokenizer.json"} <= names
    assert {"tokenizer_config.json", "training.json"} <= names
    assert sum(p.stat().st_size for p in SHIPPED_MODEL.iterdir()) < 12 * 1024 * 1024


def test_shipped_model_loads_offline_in_float32(
    model: Any, tokenizer: Any, record: dict[str, Any]
) -> None:
    assert model.config.model_type == "llama"
    assert next(model.parameters()).dtype == torch.float32
    assert model.config.vocab_size == len(tokenizer) == record["vocab_size"]
    assert sum(p.numel() for p in model.parameters()) == record["parameters"]
    assert 1_000_000 < record["parameters"] < 10_000_000


def test_training_record_matches_this_interpreter_text(record: dict[str, Any]) -> None:
    # the project runs on one Python (3.11, the lock's); another release's topics are other text,
    # and the shipped weights would then not be reproducible from this interpreter
    assert record["data_sha256"] == load_corpus().sha256, (
        f"trained on {record['python_version']}'s topics; this is {platform.python_version()}"
    )


def test_held_out_perplexity_is_far_below_uniform(
    model: Any, tokenizer: Any, record: dict[str, Any]
) -> None:
    stream = token_stream(tokenizer, load_corpus().held_out)
    _, ppl = perplexity(model, stream, record["settings"]["context"], max_windows=12)
    # measured 147 on these windows (137 on all held-out text); chance is 2048, the vocabulary
    assert ppl < len(tokenizer) / 8, ppl


def test_greedy_generation_is_text_not_noise(model: Any, tokenizer: Any) -> None:
    corpus = load_corpus()
    known = {w for text in corpus.train for w in words_of(text)}
    words: list[str] = []
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
        out = model.generate(ids, max_new_tokens=40, do_sample=False)[0, ids.shape[1] :]
        assert len(set(out.tolist())) >= 8, "one token (or a few) over and over"
        words += words_of(tokenizer.decode(out, skip_special_tokens=True))
    assert len(words) >= 40
    share = sum(w in known for w in words) / len(words)
    assert share >= 0.8, share


def test_chat_template_renders_messages_for_the_model_to_continue(
    model: Any, tokenizer: Any
) -> None:
    messages = [
        {"role": "system", "content": "Answer from the Python reference."},
        {"role": "user", "content": "The while statement"},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == "<|bos|>Answer from the Python reference.\n\nThe while statement\n\n"
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids
    assert ids[0, 0].item() == tokenizer.bos_token_id
    out = model.generate(ids, max_new_tokens=30, do_sample=False)[0, ids.shape[1] :]
    assert words_of(tokenizer.decode(out, skip_special_tokens=True))


def _files(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in ("model.safetensors", "tokenizer.json")}


def test_training_twice_gives_identical_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert main(["--out", str(tmp_path / name), "--tiny", "--steps", "2"]) == 0
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    main(["--out", str(tmp_path / "c"), "--tiny", "--steps", "2", "--seed", "1"])
    other = _files(tmp_path / "c")["model.safetensors"]
    assert other != _files(tmp_path / "a")["model.safetensors"], "the seed changes nothing"
