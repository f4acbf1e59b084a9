"""Split-learning research on the shipped split model: how it is built and how much it leaks.

``data`` (digits-28 and its fixed train/public/test split), ``nets`` and ``training`` (the head and
tail trained together, noise-aware, NoPeek), ``build`` (the shipped ``engines/splitnn_model``:
``python -m research.splitnn.build --out DIR``), ``dcor`` (distance correlation), ``inversion`` (the
reconstruction attack) and ``weight_recovery`` (recovering a head from chosen inputs, the noise
that defeats it, the query budget). The running system's half (model format, obfuscation, tail
service) is ``enclava.splitnn``; this package sits above it and nothing in the library imports it.
"""

from research.splitnn.data import digits_28, split_indices, upscale_28
from research.splitnn.dcor import distance_correlation
from research.splitnn.errors import QueryLimitExceeded, UnknownDataSplit
from research.splitnn.weight_recovery import (
    QueryBudget,
    enclave_output_noise,
    recover_head_weights,
)

__all__ = [
    "digits_28",
    "split_indices",
    "upscale_28",
    "distance_correlation",
    "UnknownDataSplit",
    "QueryLimitExceeded",
    "QueryBudget",
    "enclave_output_noise",
    "recover_head_weights",
]
