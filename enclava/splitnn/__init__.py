"""Split inference for FHE heads: the model format, data, obfuscation, leakage tools, tail service.

The enclave evaluates a model's *head* (one affine layer + x²) on the customer's CKKS ciphertext
(``enclava.fhe``); the decrypted, obfuscated head output goes to the model owner's *tail*. This
package is the model owner's and the privacy half: what a model declares, how it is trained, what
the owner receives and how much that leaks.
"""

from enclava.splitnn.data import digits_28, split_indices, upscale_28
from enclava.splitnn.dcor import distance_correlation
from enclava.splitnn.errors import (
    ActivationShapeError,
    ModelFormatError,
    QueryLimitExceeded,
    SplitNNError,
    UnknownDataSplit,
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
from enclava.splitnn.weight_recovery import QueryBudget, enclave_output_noise, recover_head_weights

__all__ = [
    "digits_28",
    "split_indices",
    "upscale_28",
    "distance_correlation",
    "SplitNNError",
    "ModelFormatError",
    "UnknownSplit",
    "ActivationShapeError",
    "UnknownDataSplit",
    "QueryLimitExceeded",
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
    "QueryBudget",
    "enclave_output_noise",
    "recover_head_weights",
]
