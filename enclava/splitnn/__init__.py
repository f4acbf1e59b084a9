"""Split inference for FHE heads, the running system's half: the model format, splits, obfuscation
and the model owner's tail service.

The enclave evaluates a model's *head* (one affine layer + x²) on the customer's CKKS ciphertext
(``enclava.fhe``); the decrypted, obfuscated head output goes to the model owner's *tail*. This
package is what a model declares, what the enclave adds before the owner sees anything, and the
owner's tail. How the shipped model is trained and how much it leaks (data, training, dCor,
inversion and weight-recovery attacks) is research code: ``research/splitnn``.
"""

from enclava.splitnn.errors import (
    ActivationShapeError,
    ModelFormatError,
    SplitNNError,
    UnknownSplit,
)
from enclava.splitnn.model_format import (
    DEFAULT_MODEL_DIR,
    HeadWeights,
    SplitModel,
    TailWeights,
    load_head,
    load_model,
    load_tail,
)
from enclava.splitnn.obfuscation import Obfuscation
from enclava.splitnn.splits import CONV_SPLIT, LINEAR_SPLIT, SPLIT_SPECS

__all__ = [
    "SplitNNError",
    "ModelFormatError",
    "UnknownSplit",
    "ActivationShapeError",
    "DEFAULT_MODEL_DIR",
    "HeadWeights",
    "TailWeights",
    "SplitModel",
    "load_model",
    "load_head",
    "load_tail",
    "Obfuscation",
    "CONV_SPLIT",
    "LINEAR_SPLIT",
    "SPLIT_SPECS",
]
