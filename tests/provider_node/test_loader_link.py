"""The loader's answers become exception classes in one place; callers decide by class."""

from __future__ import annotations

import pytest

from enclava.chain.errors import CallInvalid, ChainRefused, TransactionFailed, TransactionReverted
from enclava.errors import ChainError, TransientError
from provider_node.errors import (
    LoaderCertificationRequired,
    LoaderRefused,
    LoaderUnavailable,
)
from provider_node.loader_link import loader_error


def test_a_success_is_no_error() -> None:
    assert loader_error("/v1/enclave", 200, {"enclave": "0x"}) is None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (409, {"type": "certification_required", "detail": "renew"}, LoaderCertificationRequired),
        (503, {"type": "certification_required", "detail": "renew"}, LoaderCertificationRequired),
        (503, {"type": "chain_error", "detail": "rpc down"}, LoaderUnavailable),
        (503, {"type": "ca_unavailable", "detail": "no CA"}, LoaderUnavailable),
        (422, {"type": "invalid_request", "detail": "bad id"}, LoaderRefused),
        (500, {"type": "invalid_answer", "detail": "oops"}, LoaderRefused),
    ],
)
def test_each_answer_maps_to_its_class(
    status: int, body: dict[str, str], expected: type[Exception]
) -> None:
    error = loader_error("/v1/orders/x/execute", status, body)
    assert type(error) is expected


def test_a_refusal_keeps_the_wire_type() -> None:
    error = loader_error("/v1/enclave/certify", 422, {"type": "invalid_request", "detail": "x"})
    assert isinstance(error, LoaderRefused) and error.remote_type == "invalid_request"


def test_retry_or_final_is_decided_by_type() -> None:
    assert isinstance(LoaderUnavailable("x"), TransientError)
    assert isinstance(LoaderCertificationRequired("x"), TransientError)
    assert not isinstance(LoaderRefused("x"), TransientError)
    assert isinstance(ChainError("x"), TransientError)
    for final in (TransactionReverted, TransactionFailed, CallInvalid):
        assert issubclass(final, ChainRefused) and issubclass(final, ChainError)
    assert [c.code for c in (TransactionReverted, TransactionFailed, CallInvalid)] == [
        "tx_reverted",
        "tx_failed",
        "call_invalid",
    ]
