"""CKKS key sessions: the customer's keys, the evaluation keys the server uses, and their cache.

The customer generates everything (:class:`KeySession`). What leaves the device:

- the **public context** (parameters + public key); its SHA-256 is the session's identity, and every
  ciphertext bundle and key bundle names it, so nothing from another session is ever mixed in;
- the **evaluation keys**: relinearization keys and Galois keys for exactly the rotation steps of
  the layout the customer chose (~0.8 MB per step, seeded). They are uploaded once per session, kept
  by :class:`KeyCache` under their SHA-256, and requests refer to them by that hash.

The secret key leaves only through :meth:`KeySession.export_secret_for_enclave`, for the
enclave-decrypt mode, where the caller wraps it with age to the certified enclave key.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import tenseal.sealapi as seal

from enclava.fhe.errors import (
    ContextMismatch,
    EvaluationKeysInvalid,
    EvaluationKeysMissing,
    MalformedBundle,
)
from enclava.fhe.params import COEFF_BITS, POLY_DEGREE, build_parms, default_context, galois_elt
from enclava.fhe.serial import (
    pack_bundle,
    seal_from_bytes,
    seal_to_bytes,
    sha256_hex,
    unpack_bundle,
)

__all__ = ["KeySession", "EvaluationKeys", "KeyCache", "check_public_context"]

_PARAM_FIELDS = {"poly_degree": POLY_DEGREE, "coeff_bits": list(COEFF_BITS), "scheme": "ckks"}


class KeySession:
    """The customer's CKKS keys for one session. Holds the secret key; never serialize it by
    accident."""

    def __init__(
        self, secret_key: seal.SecretKey, public_key: seal.PublicKey | None = None
    ) -> None:
        self.context = default_context()
        self.secret_key = secret_key
        self._keygen = seal.KeyGenerator(self.context, secret_key)
        if public_key is None:
            public_key = seal.PublicKey()
            self._keygen.create_public_key(public_key)
        self.public_key = public_key
        self._public_context = pack_bundle(
            "fhe-public-context",
            _PARAM_FIELDS,
            [seal_to_bytes(build_parms()), seal_to_bytes(public_key)],
        )
        self.context_sha256 = sha256_hex(self._public_context)
        self.encoder = seal.CKKSEncoder(self.context)
        self.encryptor = seal.Encryptor(self.context, secret_key)
        self.decryptor = seal.Decryptor(self.context, secret_key)

    @classmethod
    def generate(cls) -> "KeySession":
        keygen = seal.KeyGenerator(default_context())
        return cls(keygen.secret_key())

    def __repr__(self) -> str:  # never show key material
        return f"KeySession(context_sha256={self.context_sha256[:16]}…)"

    def public_context(self) -> bytes:
        return self._public_context

    def evaluation_keys(self, steps: list[int]) -> bytes:
        """Relin keys + Galois keys for exactly ``steps``, bound to this session's context."""
        steps = sorted(set(int(s) for s in steps))
        relin = seal_to_bytes(self._keygen.create_relin_keys())
        galois = seal_to_bytes(self._keygen.create_galois_keys([galois_elt(s) for s in steps]))
        return pack_bundle(
            "fhe-eval-keys",
            {"context_sha256": self.context_sha256, "steps": steps},
            [relin, galois],
        )

    def export_secret_for_enclave(self) -> bytes:
        """The secret key, for the enclave-decrypt mode only: wrap it with age to the certified
        enclave."""
        return pack_bundle(
            "fhe-secret-key",
            {"context_sha256": self.context_sha256},
            [seal_to_bytes(self.secret_key), seal_to_bytes(self.public_key)],
        )

    @classmethod
    def from_enclave_secret(cls, data: bytes) -> "KeySession":
        """Inside the enclave: rebuild the session from :meth:`export_secret_for_enclave`'s
        bytes."""
        fields, blobs = unpack_bundle(data, "fhe-secret-key")
        if len(blobs) != 2:
            raise MalformedBundle("a secret-key bundle holds the secret key and its public key")
        ctx = default_context()
        session = cls(
            seal_from_bytes(seal.SecretKey(), ctx, blobs[0], "secret key"),
            seal_from_bytes(seal.PublicKey(), ctx, blobs[1], "public key"),
        )
        if session.context_sha256 != fields.get("context_sha256"):
            raise ContextMismatch("the secret key does not belong to the context it names")
        return session


def check_public_context(data: bytes) -> str:
    """Validate a public context (our parameters, a loadable public key) and return its SHA-256."""
    fields, blobs = unpack_bundle(data, "fhe-public-context")
    if fields != _PARAM_FIELDS or len(blobs) != 2 or blobs[0] != seal_to_bytes(build_parms()):
        raise ContextMismatch(f"public context uses other CKKS parameters than {_PARAM_FIELDS}")
    seal_from_bytes(seal.PublicKey(), default_context(), blobs[1], "public key")
    return sha256_hex(data)


class EvaluationKeys:
    """Server side: relin + Galois keys of one session, checked against a layout before use."""

    def __init__(self, data: bytes) -> None:
        fields, blobs = unpack_bundle(data, "fhe-eval-keys")
        if len(blobs) != 2 or not blobs[0] or not blobs[1]:
            raise EvaluationKeysMissing(
                "the evaluation-key bundle lacks relinearization or Galois keys"
            )
        self.sha256 = sha256_hex(data)
        self.context_sha256 = str(fields.get("context_sha256", ""))
        self.steps = [int(s) for s in fields.get("steps", [])]
        ctx = default_context()
        self.relin = seal_from_bytes(seal.RelinKeys(), ctx, blobs[0], "relinearization keys")
        self.galois = seal_from_bytes(seal.GaloisKeys(), ctx, blobs[1], "Galois keys")
        for step in self.steps:  # the declared steps must really be there
            if not self.galois.has_key(galois_elt(step)):
                raise EvaluationKeysInvalid(
                    f"Galois keys declare step {step} but hold no key for it"
                )

    def require(self, steps: list[int], context_sha256: str) -> None:
        if self.context_sha256 != context_sha256:
            raise ContextMismatch(
                "the evaluation keys belong to another CKKS context than the request"
            )
        missing = [s for s in steps if not self.galois.has_key(galois_elt(s))]
        if missing:
            raise EvaluationKeysInvalid(
                f"no Galois keys for rotation steps {missing} that this split's layout needs"
            )


class KeyCache:
    """Evaluation-key bundles kept by SHA-256 on disk, the last few loaded ones in memory."""

    def __init__(self, folder: str | os.PathLike[str], keep_loaded: int = 4) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._loaded: OrderedDict[str, EvaluationKeys] = OrderedDict()
        self._keep = keep_loaded

    def put(self, data: bytes) -> str:
        keys = EvaluationKeys(data)  # refuse junk before storing it
        path = self.folder / keys.sha256
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        self._remember(keys)
        return keys.sha256

    def has(self, sha256: str) -> bool:
        return sha256 in self._loaded or (self.folder / sha256).is_file()

    def get(self, sha256: str) -> EvaluationKeys:
        if sha256 in self._loaded:
            self._loaded.move_to_end(sha256)
            return self._loaded[sha256]
        path = self.folder / sha256
        if len(sha256) != 64 or not path.is_file():
            raise EvaluationKeysMissing(
                f"no evaluation keys with SHA-256 {sha256[:16]}… were uploaded"
            )
        data = path.read_bytes()
        if sha256_hex(data) != sha256:
            raise MalformedBundle("cached evaluation keys are corrupted; upload them again")
        keys = EvaluationKeys(data)
        self._remember(keys)
        return keys

    def _remember(self, keys: EvaluationKeys) -> None:
        self._loaded[keys.sha256] = keys
        self._loaded.move_to_end(keys.sha256)
        while len(self._loaded) > self._keep:
            self._loaded.popitem(last=False)
