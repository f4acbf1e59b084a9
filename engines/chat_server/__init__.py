"""The serving engine: an OpenAI-compatible server (``/v1/models``, ``/v1/chat/completions``,
``/v1/completions``, streaming or not) over any Hugging Face causal-LM folder, with continuous
batching. Run alone on TCP it is the *plain* server of the benchmark; inside the enclave the
trusted loader starts it in the sandbox on a Unix socket and proxies to it (docs/SERVING.md).

Modules: ``loading`` (folder → model + tokenizer), ``scheduler`` (the model's one driver thread),
``batch`` (the running batch's cache), ``sampling``, ``text`` (incremental text, stop strings),
``protocol`` (OpenAI bodies), ``app`` (routes), ``server`` (CLI), ``errors``, ``tiny_model`` (a
random tiny Llama folder for tests). Imports nothing from ``enclava``: it runs in the sandbox.
"""

from .errors import ChatServerError
from .loading import LoadedModel, load_model, pick_device
from .sampling import SamplingParams
from .scheduler import Scheduler

__all__ = [
    "ChatServerError",
    "LoadedModel",
    "SamplingParams",
    "Scheduler",
    "load_model",
    "pick_device",
]
