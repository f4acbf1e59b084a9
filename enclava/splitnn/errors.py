"""Errors of split inference (the model owner's side: model format, splits, tail service).

Hierarchy::

    EnclavaError
    └── SplitNNError             split inference failed
        ├── ModelFormatError     a model folder is missing files, has a bad manifest or bad weights
        ├── UnknownSplit         the model does not allow the split point that was asked for
        └── ActivationShapeError activations (or an input) have the wrong shape or are not finite

The research code's own subclasses (``UnknownDataSplit``, ``QueryLimitExceeded``) live in
``research/splitnn/errors.py``.
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = [
    "SplitNNError",
    "ModelFormatError",
    "UnknownSplit",
    "ActivationShapeError",
]


class SplitNNError(EnclavaError):
    code = "splitnn_error"
    hint = "See the logs of the split-inference component for details."


class ModelFormatError(SplitNNError):
    code = "model_format_error"
    hint = "Rebuild the model folder with `python -m research.splitnn.build --out DIR`."


class UnknownSplit(SplitNNError):
    code = "unknown_split"
    hint = "Pick one of the split points the model's manifest.json lists under `splits`."
    http_status = 404


class ActivationShapeError(SplitNNError):
    code = "invalid_activation_shape"
    hint = "Send a batch [n, d] of finite numbers, d being the split's declared output size."
    http_status = 422
