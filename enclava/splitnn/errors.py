"""Errors of split inference (the model owner's side: model format, splits, tail service).

Hierarchy::

    EnclavaError
    └── SplitNNError                 split inference failed
        ├── ModelFormatError         a model folder is missing files, has a bad manifest or bad weights
        ├── UnknownSplit             the model does not allow the split point that was asked for
        ├── ActivationShapeError     activations (or an input) have the wrong shape or are not finite
        ├── UnknownDataSplit         digits_28 was asked for a split other than train/public/test
        └── QueryLimitExceeded       a customer asked for more head evaluations than the policy allows
"""

from __future__ import annotations

from enclava.errors import EnclavaError

__all__ = [
    "SplitNNError",
    "ModelFormatError",
    "UnknownSplit",
    "ActivationShapeError",
    "UnknownDataSplit",
    "QueryLimitExceeded",
]


class SplitNNError(EnclavaError):
    code = "splitnn_error"
    hint = "See the logs of the split-inference component for details."


class ModelFormatError(SplitNNError):
    code = "model_format_error"
    hint = "Rebuild the model folder with `python -m enclava.splitnn.train --out DIR`."


class UnknownSplit(SplitNNError):
    code = "unknown_split"
    hint = "Pick one of the split points the model's manifest.json lists under `splits`."
    http_status = 404


class ActivationShapeError(SplitNNError):
    code = "invalid_activation_shape"
    hint = "Send a batch [n, d] of finite numbers, d being the split's declared output size."
    http_status = 422


class UnknownDataSplit(SplitNNError):
    code = "unknown_data_split"
    hint = "Use split='train', 'public' or 'test'."


class QueryLimitExceeded(SplitNNError):
    code = "query_limit_exceeded"
    hint = "The listing's policy limits head evaluations per customer; buy a new allowance or wait."
    http_status = 429
