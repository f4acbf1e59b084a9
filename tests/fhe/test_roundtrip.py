import numpy as np
import pytest

from enclava.fhe import (
    EvaluationKeys,
    FheRequest,
    FheResult,
    MalformedBundle,
    check_public_context,
    decrypt_raw,
    evaluate_request,
    prepare_request,
)
from enclava.fhe.serial import pack_bundle, unpack_bundle

from .conftest import CONV, LINEAR, MANIFEST


def test_bundle_roundtrip_is_canonical_and_tamper_evident():
    data = pack_bundle("t", {"b": 1, "a": [2]}, [b"xy", b""])
    assert unpack_bundle(data, "t") == ({"a": [2], "b": 1}, [b"xy", b""])
    assert pack_bundle("t", {"a": [2], "b": 1}, [b"xy", b""]) == data
    with pytest.raises(MalformedBundle):
        unpack_bundle(data[:-1] + b"z", "t")
    with pytest.raises(MalformedBundle):
        unpack_bundle(data, "other")


@pytest.mark.parametrize("split", [LINEAR, CONV])
def test_single_input_matches_plaintext_head(split, session, heads, eval_keys, digits):
    x = digits[:3]
    req, data = prepare_request(MANIFEST, split, x, session, eval_keys[split], mode="single")
    assert FheRequest.from_bytes(data) == req and len(req.ciphertexts) == 3
    result = evaluate_request(
        data,
        MANIFEST,
        heads[split],
        check_public_context(session.public_context()),
        EvaluationKeys(eval_keys[split]),
    )
    result = FheResult.from_bytes(result.to_bytes())
    got, want = decrypt_raw(result, session), heads[split].forward(x)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-3
    assert (got.argmax(1) == want.argmax(1)).all()


@pytest.mark.parametrize(
    "split", [LINEAR, CONV]
)  # dense head: RNS matmul; sparse conv: SEAL products
def test_batch_matches_plaintext_head(split, session, heads, eval_keys, digits):
    x = digits[:20]
    _, data = prepare_request(MANIFEST, split, x, session, eval_keys["batch"], mode="batch")
    result = evaluate_request(
        data, MANIFEST, heads[split], session.context_sha256, EvaluationKeys(eval_keys["batch"])
    )
    got, want = decrypt_raw(result, session), heads[split].forward(x)
    assert got.shape == (20, heads[split].output_dim)
    assert np.abs(got - want).max() < 1e-3
    assert (got.argmax(1) == want.argmax(1)).all()
