import numpy as np
import pytest

from enclava.fhe import (
    ContextMismatch,
    EvaluationKeysMissing,
    KeyCache,
    KeySession,
    MalformedBundle,
    decrypt_raw,
    decrypt_result,
    enclave_decrypt,
    evaluate_request,
    flood_sigma,
    prepare_request,
)
from enclava.fhe.serial import seal_to_bytes

from .conftest import LINEAR, MANIFEST


def test_keys_cached_and_reloaded_by_hash(tmp_path, session, eval_keys):
    cache = KeyCache(tmp_path)
    sha = cache.put(eval_keys[LINEAR])
    assert cache.has(sha) and cache.get(sha).sha256 == sha
    fresh = KeyCache(tmp_path)  # a new process: from disk
    assert fresh.get(sha).context_sha256 == session.context_sha256
    with pytest.raises(EvaluationKeysMissing):
        fresh.get("0" * 64)
    (tmp_path / sha).write_bytes(eval_keys[LINEAR][:-1] + b"!")
    with pytest.raises(MalformedBundle):
        KeyCache(tmp_path).get(sha)


def test_secret_key_only_in_its_explicit_export(session, eval_keys):
    secret = seal_to_bytes(session.secret_key)
    assert secret not in session.public_context() and secret not in eval_keys[LINEAR]
    assert "secret" not in repr(session).lower()
    back = KeySession.from_enclave_secret(session.export_secret_for_enclave())
    assert back.context_sha256 == session.context_sha256


def test_customer_decrypt_floods_every_released_value(session, heads, eval_keys, digits):
    _, data = prepare_request(MANIFEST, LINEAR, digits[:4], session, eval_keys[LINEAR])
    result = evaluate_request(
        data,
        MANIFEST,
        heads[LINEAR],
        session.context_sha256,
        __import__("enclava.fhe", fromlist=["EvaluationKeys"]).EvaluationKeys(eval_keys[LINEAR]),
    )
    raw = decrypt_raw(result, session)
    released = decrypt_result(result, session, stat_bits=20, rng=np.random.default_rng(0))
    diff = (released - raw).ravel()
    sigma = flood_sigma(20)
    assert np.all(diff != 0)
    assert 0.8 * sigma < diff.std() < 1.2 * sigma
    assert (released.argmax(1) == heads[LINEAR].forward(digits[:4]).argmax(1)).all()
    other = KeySession.generate()
    with pytest.raises(ContextMismatch):
        decrypt_result(result, other)
    acts = enclave_decrypt(
        result,
        session.export_secret_for_enclave(),
        obfuscation_sigma=0.5,
        rng=np.random.default_rng(1),
    )
    assert 0.4 < (acts - raw).std() < 0.6
