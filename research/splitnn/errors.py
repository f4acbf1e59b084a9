"""Errors of the split-learning research code (data splits, the weight-recovery query budget).

Hierarchy::

    enclava.splitnn.SplitNNError
    ├── UnknownDataSplit      digits_28 was asked for a split other than train/public/test
    └── QueryLimitExceeded    a customer asked for more head evaluations than the policy allows
"""

from __future__ import annotations

from enclava.splitnn.errors import SplitNNError

__all__ = ["UnknownDataSplit", "QueryLimitExceeded"]


class UnknownDataSplit(SplitNNError):
    code = "unknown_data_split"
    hint = "Use split='train', 'public' or 'test'."


class QueryLimitExceeded(SplitNNError):
    code = "query_limit_exceeded"
    hint = "The listing's policy limits head evaluations per customer; buy a new allowance or wait."
    http_status = 429
