import numpy as np
import pytest
import tenseal.sealapi as seal

from enclava.fhe.params import SCALE, default_context
from enclava.fhe.rns import (
    _limbs,
    ciphertext_coefficients,
    ciphertext_from_coefficients,
    encode_weights,
    lincomb_mod,
)


@pytest.fixture(scope="module")
def cts(session):
    rng = np.random.default_rng(3)
    out = []
    for _ in range(12):
        pt = seal.Plaintext()
        session.encoder.encode(rng.normal(0, 1, 4096).tolist(), SCALE, pt)
        ct = seal.Ciphertext()
        session.encryptor.encrypt_symmetric(pt, ct)
        out.append(ct)
    return out


def _moduli(ct):
    return [
        m.value() for m in default_context().get_context_data(ct.parms_id()).parms().coeff_modulus()
    ]


def _seal_sum(session, cts, row):
    ctx = default_context()
    ev, acc = seal.Evaluator(ctx), None
    for p in np.flatnonzero(row):
        const, term = seal.Plaintext(), seal.Ciphertext()
        session.encoder.encode(float(row[p]), cts[0].parms_id(), SCALE, const)
        ev.multiply_plain(cts[p], const, term)
        acc = term if acc is None else (ev.add_inplace(acc, term) or acc)
    return acc


def test_limbs_rebuild_signed_values():
    x = np.array([0, 1, -1, 2**59 - 1, -(2**59), 123456789012345], dtype=np.int64)
    digits = _limbs(x, 3)
    assert all(np.abs(d).max() <= 2**21 for d in digits)
    assert [
        sum(int(d[i]) << (22 * k) for k, d in enumerate(digits)) for i in range(len(x))
    ] == x.tolist()
    with pytest.raises(ValueError):
        _limbs(x, 2)


def test_encode_weights_rounds_half_away_from_zero():
    assert encode_weights(np.array([0.5, -0.5, 1.5, -2.4]), 1.0).tolist() == [1, -1, 2, -2]


def test_coefficients_roundtrip_to_the_same_ciphertext(cts):
    data, template = ciphertext_coefficients(cts[0])
    assert data.shape == (2, 3, 8192)
    again = ciphertext_from_coefficients(data, template, cts[0].scale, default_context())
    assert np.array_equal(ciphertext_coefficients(again)[0], data) and again.scale == cts[0].scale
    with pytest.raises(ValueError):
        ciphertext_from_coefficients(data[:, :2], template, cts[0].scale, default_context())


def test_lincomb_is_bit_identical_to_seal_scalar_products(session, cts):
    rng = np.random.default_rng(5)
    w = rng.normal(0, 0.3, (4, len(cts)))
    w[1, 2], w[2, :5] = 0.0, -w[2, :5]
    coeffs = np.stack([ciphertext_coefficients(ct)[0] for ct in cts])
    sums = lincomb_mod(encode_weights(w, SCALE), coeffs, _moduli(cts[0]))
    template = ciphertext_coefficients(cts[0])[1]
    for j in range(len(w)):
        mine = ciphertext_from_coefficients(
            sums[j], template, cts[0].scale * SCALE, default_context()
        )
        want = _seal_sum(session, cts, w[j])
        assert mine.scale == want.scale and mine.parms_id() == want.parms_id()
        assert np.array_equal(ciphertext_coefficients(mine)[0], ciphertext_coefficients(want)[0])


def test_lincomb_rejects_mismatched_shapes(cts):
    coeffs = np.stack([ciphertext_coefficients(ct)[0] for ct in cts[:3]])
    with pytest.raises(ValueError):
        lincomb_mod(np.ones((2, 4), dtype=np.int64), coeffs, _moduli(cts[0]))
