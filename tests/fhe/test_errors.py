import numpy as np
import pytest

from enclava.fhe import (
    ContextMismatch,
    EvaluationKeys,
    EvaluationKeysInvalid,
    EvaluationKeysMissing,
    InputShapeError,
    KeySession,
    MalformedBundle,
    SplitNotAllowed,
    check_request,
    prepare_request,
)
from enclava.fhe.serial import pack_bundle

from .conftest import CONV, LINEAR, MANIFEST


def test_split_not_declared_is_refused(session, eval_keys, digits):
    with pytest.raises(SplitNotAllowed) as err:
        prepare_request(MANIFEST, "conv3x3_relu", digits[:1], session, eval_keys[LINEAR])
    assert err.value.code == "fhe_split_not_allowed"


@pytest.mark.parametrize(
    "images",
    [
        np.zeros((2, 27, 27)),
        np.zeros((2, 785)),
        np.zeros((0, 784)),
        np.full((1, 784), 2.0),
        np.full((1, 784), np.nan),
    ],
)
def test_wrong_shape_or_range_is_refused(session, eval_keys, images):
    with pytest.raises(InputShapeError):
        prepare_request(MANIFEST, LINEAR, images, session, eval_keys[LINEAR])


def test_keys_without_the_layouts_rotations_are_refused(session, eval_keys, digits):
    with pytest.raises(EvaluationKeysInvalid):  # the conv layout's keys lack step 128
        prepare_request(MANIFEST, LINEAR, digits[:1], session, eval_keys[CONV])


def test_request_checked_against_other_keys_is_refused(session, eval_keys, digits):
    _, data = prepare_request(MANIFEST, LINEAR, digits[:1], session, eval_keys[LINEAR])
    with pytest.raises(EvaluationKeysInvalid):
        check_request(data, MANIFEST, session.context_sha256, EvaluationKeys(eval_keys[CONV]))
    with pytest.raises(SplitNotAllowed):
        check_request(
            data,
            {"splits": {CONV: MANIFEST["splits"][CONV]}},
            session.context_sha256,
            EvaluationKeys(eval_keys[LINEAR]),
        )


def test_missing_relin_or_galois_keys_are_refused(session):
    with pytest.raises(EvaluationKeysMissing):
        EvaluationKeys(
            pack_bundle(
                "fhe-eval-keys", {"context_sha256": session.context_sha256, "steps": []}, [b"", b""]
            )
        )


def test_ciphertext_from_another_context_is_refused(session, eval_keys, digits):
    other = KeySession.generate()
    other_keys = other.evaluation_keys([1, 2, 3, 4, 5, 6, 7, 8, 16, 24, 128, 256, 512, 1024, 2048])
    _, data = prepare_request(MANIFEST, LINEAR, digits[:1], other, other_keys)
    with pytest.raises(ContextMismatch):
        check_request(data, MANIFEST, session.context_sha256, EvaluationKeys(other_keys))
    with pytest.raises(ContextMismatch):  # this session's request with the other session's keys
        prepare_request(MANIFEST, LINEAR, digits[:1], session, other_keys)


def test_garbage_ciphertext_is_refused(session, eval_keys, digits):
    req, _ = prepare_request(MANIFEST, LINEAR, digits[:1], session, eval_keys[LINEAR])
    forged = type(req)(
        req.split,
        req.mode,
        req.decrypt_mode,
        1,
        req.context_sha256,
        req.eval_keys_sha256,
        (b"\x00" * 100,),
    )
    with pytest.raises(MalformedBundle):
        check_request(
            forged.to_bytes(), MANIFEST, session.context_sha256, EvaluationKeys(eval_keys[LINEAR])
        )
    wrong_count = type(req)(
        req.split,
        req.mode,
        req.decrypt_mode,
        2,
        req.context_sha256,
        req.eval_keys_sha256,
        req.ciphertexts,
    )
    with pytest.raises(InputShapeError):
        check_request(
            wrong_count.to_bytes(),
            MANIFEST,
            session.context_sha256,
            EvaluationKeys(eval_keys[LINEAR]),
        )
