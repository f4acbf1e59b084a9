"""Load a Hugging Face causal-LM folder (``config.json``, ``*.safetensors``, tokenizer files) with
transformers, offline and without remote code, onto the chosen device."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch

from .errors import DeviceUnavailable, ModelFolderInvalid, NotACausalLM, TokenizerInvalid

__all__ = ["LoadedModel", "load_model", "pick_device"]


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """The model in eval mode on ``device``, its tokenizer, and what the API needs to know."""

    model: Any
    tokenizer: Any
    name: str
    device: torch.device
    context_length: int
    eos_token_ids: frozenset[int]


def pick_device(wanted: str = "auto") -> torch.device:
    """``cuda`` when asked for or (``auto``) when torch sees a GPU, else ``cpu``."""
    if wanted not in ("auto", "cpu", "cuda"):
        raise DeviceUnavailable(f"unknown device {wanted!r}")
    if wanted == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("--device cuda, but torch sees no GPU")
    if wanted == "auto":
        wanted = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(wanted)


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise ModelFolderInvalid(f"model folder {str(folder)!r} is not a folder")
    if not (folder / "config.json").is_file():
        raise ModelFolderInvalid(f"model folder {str(folder)!r} has no config.json")
    if not any(folder.glob("*.safetensors")):
        raise ModelFolderInvalid(f"model folder {str(folder)!r} has no *.safetensors weights")


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        value = getattr(source, "eos_token_id", None) if source is not None else None
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    return frozenset(ids)


def _context_length(model: Any, tokenizer: Any) -> int:
    config = model.config.get_text_config(decoder=True)
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10**7 else 2048


def _check_causal(config: Any) -> None:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if getattr(config, "is_encoder_decoder", False):
        raise NotACausalLM(f"{type(config).__name__} is an encoder-decoder, not a causal LM")
    names = getattr(config, "architectures", None) or []
    known = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    if names and not any(name in known for name in names):
        raise NotACausalLM(f"the folder's architectures {names} hold no causal language model")


def load_model(
    folder: str | os.PathLike[str], device: str = "auto", name: str | None = None
) -> LoadedModel:
    """Load ``folder`` for serving; raise a :class:`ModelLoadError` subclass when it cannot be."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    path = Path(folder)
    _check_folder(path)
    where = pick_device(device)
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise NotACausalLM(
            f"config.json of {str(path)!r} is not one transformers knows: {exc}"
        ) from exc
    _check_causal(config)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            path, config=config, local_files_only=True, trust_remote_code=False
        )
    except ValueError as exc:
        raise NotACausalLM(f"{type(config).__name__} is not a causal language model") from exc
    except OSError as exc:
        raise ModelFolderInvalid(f"the weights in {str(path)!r} cannot be loaded: {exc}") from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            path, local_files_only=True, trust_remote_code=False
        )
    except (OSError, ValueError, TypeError) as exc:
        raise TokenizerInvalid(f"no usable tokenizer in {str(path)!r}: {exc}") from exc
    if tokenizer is None or not callable(getattr(tokenizer, "encode", None)):
        raise TokenizerInvalid(f"no usable tokenizer in {str(path)!r}")
    model = model.to(where).eval()  # type: ignore[arg-type]  # transformers types .to badly
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=name or path.resolve().name,
        device=where,
        context_length=_context_length(model, tokenizer),
        eos_token_ids=_eos_ids(model, tokenizer),
    )
