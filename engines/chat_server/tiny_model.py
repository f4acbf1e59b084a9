"""A tiny random Llama folder in the served format (``config.json``, ``model.safetensors``,
tokenizer files with a chat template), for tests and smoke runs of the server. Its text is noise;
the shipped model is ``engines/chat_model/pydoc-tiny/``."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CHAT_TEMPLATE", "build_tiny_llama"]

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
_SPECIAL = ["<|end|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"]
_TEXT = (
    "The quick brown fox jumps over the lazy dog. A function returns a value; a class defines "
    "objects with methods and attributes. Lists, tuples and dictionaries hold other objects. "
    "Exceptions are raised when an error occurs and caught with try and except. Modules are "
    "imported by name, and packages are folders of modules. Ünïcödé text: naïve café, 東京, 🙂. "
)


def build_tiny_llama(
    folder: str | os.PathLike[str],
    *,
    hidden: int = 64,
    layers: int = 2,
    vocab: int = 384,
    context: int = 512,
    seed: int = 0,
) -> Path:
    """Write a random ``LlamaForCausalLM`` (``hidden`` wide, ``layers`` deep) and a byte-level BPE
    tokenizer trained on a short English text into ``folder``; answer the folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([_TEXT] * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok, eos_token="<|end|>", pad_token="<|pad|>"
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    return path
