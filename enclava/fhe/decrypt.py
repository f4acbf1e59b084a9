"""Both decryption modes' helpers, and why decrypted values are flooded with noise.

**Why flood.** CKKS is approximate: a decryption returns the message *plus the ciphertext's error*,
and that error is a function of the secret key. Li and Micciancio (EUROCRYPT 2021, "On the security
of homomorphic encryption on approximate numbers") showed that a party who holds a ciphertext and
its decryption can solve for the error and then for the secret key — a passive key-recovery attack.
Here the enclave (and anyone who can read the request in transit) holds the ciphertexts, and the
model owner receives the decrypted head outputs; so nothing decrypted may leave the customer's
device (or, in enclave-decrypt mode, the enclave) without **noise flooding**: fresh Gaussian noise
whose standard deviation is ``2^(stat_bits/2)`` times a bound on the CKKS error, which makes the
released value statistically independent of the error, hence of the key. Only the real parts of the
slots the tail needs are released, which discloses less still.

**Weight extraction.** A customer who sees exact head outputs can solve for W, b from about
784 + 1 chosen inputs. In customer-decrypt mode the enclave therefore adds its own calibrated noise
to the result before returning it (:func:`enclave_mask_result`, the level set by the model owner),
and the listing may cap the number of queries.
"""

from __future__ import annotations

import numpy as np
import tenseal.sealapi as seal

from enclava.fhe.errors import ContextMismatch, DecryptionError
from enclava.fhe.kernels import add_output_noise
from enclava.fhe.keys import KeySession
from enclava.fhe.params import default_context
from enclava.fhe.protocol import FheResult
from enclava.fhe.serial import seal_from_bytes

__all__ = [
    "CKKS_ERROR_BOUND",
    "DEFAULT_STAT_BITS",
    "flood_sigma",
    "decrypt_raw",
    "decrypt_result",
    "flood",
    "enclave_mask_result",
    "enclave_decrypt",
]

#: Bound on |decrypted − exact| of a head output, measured at 7e-6 (conv) and 6e-7 (linear) for
#: outputs up to ~10 at scale 2^40; kept with a 4× margin.
CKKS_ERROR_BOUND = 3e-5
#: 20 bits of statistical distance by default (σ ≈ 0.03): 2^(λ/2) grows fast, and 40 bits would put
#: σ ≈ 31 on activations of magnitude ~10. Raise it together with the scale when precision allows.
DEFAULT_STAT_BITS = 20


def flood_sigma(stat_bits: int = DEFAULT_STAT_BITS, error_bound: float = CKKS_ERROR_BOUND) -> float:
    return float(error_bound * 2.0 ** (stat_bits / 2))


def flood(values: np.ndarray, sigma: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Add N(0, sigma²) to every released value."""
    if sigma <= 0:
        raise ValueError("noise flooding needs a positive sigma")
    rng = rng or np.random.default_rng()
    return values + rng.normal(0.0, sigma, size=values.shape)


def decrypt_raw(result: FheResult, session: KeySession) -> np.ndarray:
    """The head outputs [n_inputs, rows] exactly as decrypted. Never release these unflooded."""
    if result.context_sha256 != session.context_sha256:
        raise ContextMismatch("the result was computed for another key session")
    ctx, out = default_context(), []
    for blob in result.ciphertexts:
        ct = seal_from_bytes(seal.Ciphertext(), ctx, blob, "result ciphertext")
        pt = seal.Plaintext()
        try:
            session.decryptor.decrypt(ct, pt)
        except (RuntimeError, ValueError) as exc:
            raise DecryptionError("the result cannot be decrypted with this session's key") from exc
        out.append(np.array(session.encoder.decode_double(pt)))
    if result.mode == "single":
        return np.stack([v[: result.rows] for v in out])
    return np.stack(out, axis=1)[: result.n_inputs]


def decrypt_result(
    result: FheResult,
    session: KeySession,
    *,
    stat_bits: int = DEFAULT_STAT_BITS,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Customer decrypt: the flooded head outputs, safe to hand to the obfuscation and the tail."""
    return flood(decrypt_raw(result, session), flood_sigma(stat_bits), rng)


def enclave_mask_result(ct: seal.Ciphertext, sigma: float, rng: np.random.Generator) -> None:
    """Customer-decrypt mode, inside the enclave: calibrated noise on the result before it
    returns."""
    add_output_noise(ct, sigma, rng)


def enclave_decrypt(
    result: FheResult,
    secret_bundle: bytes,
    *,
    obfuscation_sigma: float = 0.0,
    stat_bits: int = DEFAULT_STAT_BITS,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Enclave decrypt: open with the released secret key, flood, then add the model's obfuscation
    noise (its level defined by the split model); the activations [n, rows] go to the tail."""
    rng = rng or np.random.default_rng()
    values = flood(
        decrypt_raw(result, KeySession.from_enclave_secret(secret_bundle)),
        flood_sigma(stat_bits),
        rng,
    )
    if obfuscation_sigma > 0:
        values = values + rng.normal(0.0, obfuscation_sigma, size=values.shape)
    return values
