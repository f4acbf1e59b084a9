"""The shipped served model: a small Llama trained here on CPython's pydoc topics.

``SHIPPED_MODEL`` is a Hugging Face folder (config, safetensors weights, tokenizer with a chat
template, ``training.json``) that ``engines.chat_server`` loads with no download;
``python -m engines.chat_model.train`` rebuilds it (see this folder's README).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SHIPPED_MODEL"]

#: the committed model folder, written by ``python -m engines.chat_model.train --out`` it
SHIPPED_MODEL = Path(__file__).resolve().parent / "pydoc-tiny"
