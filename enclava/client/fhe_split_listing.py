"""An FHE-split model as it is listed: the head resources the enclave reads, the public manifest the
customer checks before ordering, and the tail that answers with predictions.

The model owner publishes two model resources for ``engines/fhe_head``: the head's weights (one
``.npz`` per split) and the **FHE manifest** (JSON: the splits the owner allows, each head's kind
and shape, the noise levels the enclave applies, the decrypt modes the policy allows). The manifest
is not secret, so its listing's ``metadata_cid`` points to the same JSON in plaintext on IPFS: the
customer reads it there (content-addressed, its CID bound on chain by the owner's listing) and runs
every check of :func:`enclava.fhe.check_request` before any money moves; the enclave runs them again
on the encrypted copy.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from enclava.chain.market import MarketClient
from enclava.client.errors import DecryptModeNotAllowed, FheListingInvalid
from enclava.fhe import SplitNotAllowed
from enclava.splitnn import Obfuscation, SplitModel
from enclava.storage.content_store import IpfsContentStore

__all__ = [
    "FheListing",
    "fhe_manifest",
    "head_npz",
    "read_fhe_listing",
    "fhe_head_engine_folder",
]

FORMAT = "enclava-fhe-manifest/1"


def fhe_manifest(
    model: SplitModel,
    *,
    splits: list[str] | None = None,
    noise_scale: float = 1.0,
    head_resources: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The FHE manifest of a split model, as the owner lists it.

    Per split: the head's shape (``kind``, ``output_dim``, ``stride``, activation x²), the
    obfuscation the tail was trained with and its absolute σ in enclave-decrypt mode
    (``obfuscation_sigma``), and the enclave's mask against weight recovery in customer-decrypt mode
    (``output_noise_sigma`` = max(declared, policy minimum) × rms). ``noise_scale`` multiplies both
    noise levels: the owner's trade between accuracy and leakage (1.0 = as the model ships).
    ``head_resources`` names each split's head-weights resource id (published first), so customers
    need only the manifest's id.
    """
    policy = model.policy
    minimum = float(policy.get("min_output_noise", 0.5))
    out: dict[str, Any] = {}
    for name in splits or model.splits:
        entry, head = model.entry(name), model.head(name)
        obf = head.obfuscation
        declared = obf.amount if obf.kind == "gaussian" else 0.0
        scaled = Obfuscation(
            obf.kind, obf.amount * noise_scale if obf.kind == "gaussian" else obf.amount
        )
        out[name] = {
            "kind": head.kind,
            "output_dim": head.output_dim,
            "stride": head.stride,
            "activation": entry["head"]["activation"],
            "activation_rms": head.activation_rms,
            "obfuscation": scaled.to_dict(),
            "obfuscation_sigma": declared * noise_scale * head.activation_rms,
            "output_noise_sigma": max(declared, minimum) * noise_scale * head.activation_rms,
        }
    return {
        "format": FORMAT,
        "model": model.manifest.get("name"),
        "version": model.manifest.get("version"),
        "splits": out,
        "head_resources": {k: int(v) for k, v in (head_resources or {}).items()},
        "policy": {
            "decrypt_modes": list(policy.get("decrypt_modes", ["enclave", "customer"])),
            "max_queries_per_customer": policy.get("max_queries_per_customer"),
        },
    }


_ROOT = Path(__file__).resolve().parents[2]


def fhe_head_engine_folder(dest: str | Path) -> Path:
    """engines/fhe_head made self-contained for publishing: the engine plus the CKKS code it runs.

    The sandbox sees the engine archive and the interpreter's site-packages (tenseal, numpy), not
    this checkout, so the archive carries ``enclava/__init__.py``, ``enclava/errors.py``,
    ``enclava/lazy.py`` (``enclava.fhe`` loads its modules on first use),
    ``enclava/protocol/canonical.py`` (with its import-free package file) and ``enclava/fhe/``
    (pure Python over TenSEAL) next to ``main.py``: what runs in the enclave is
    exactly what the engine hash on chain names.
    """
    dest = Path(dest)
    for name in ("engine.toml", "main.py"):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_ROOT / "engines" / "fhe_head" / name, dest / name)
    (dest / "enclava" / "fhe").mkdir(parents=True, exist_ok=True)
    (dest / "enclava" / "protocol").mkdir(parents=True, exist_ok=True)
    for name in (
        "__init__.py",
        "errors.py",
        "lazy.py",
        "protocol/__init__.py",
        "protocol/canonical.py",
    ):
        shutil.copyfile(_ROOT / "enclava" / name, dest / "enclava" / name)
    for src in sorted((_ROOT / "enclava" / "fhe").glob("*.py")):
        shutil.copyfile(src, dest / "enclava" / "fhe" / src.name)
    return dest


def head_npz(model: SplitModel, split: str) -> bytes:
    """The head weights resource of one split: ``weight``, ``bias`` (and ``stride``),
    pickle-free."""
    head = model.head(split)
    buf = io.BytesIO()
    np.savez(buf, weight=head.weight, bias=head.bias, stride=np.array(head.stride))
    return buf.getvalue()


@dataclass(frozen=True)
class FheListing:
    """What a customer orders against: the engine, the two model resources, the public manifest."""

    engine_id: int
    head_weights_id: int
    manifest_id: int
    manifest: dict[str, Any]

    @property
    def resource_ids(self) -> list[int]:
        return [
            self.head_weights_id,
            self.manifest_id,
        ]  # the engine's declared order: weights, manifest

    def split(self, name: str) -> dict[str, Any]:
        splits = self.manifest.get("splits", {})
        if name not in splits:
            raise SplitNotAllowed(
                f"split {name!r} is not declared by the model; allowed: {sorted(splits) or 'none'}"
            )
        split: dict[str, Any] = splits[name]
        return split

    def require_decrypt_mode(self, mode: str) -> None:
        allowed = self.manifest.get("policy", {}).get("decrypt_modes", ["enclave", "customer"])
        if mode not in allowed:
            raise DecryptModeNotAllowed(
                f"decrypt mode {mode!r} is not allowed by the model; allowed: {allowed}"
            )

    def obfuscation(self, split: str) -> tuple[Obfuscation, float]:
        entry = self.split(split)
        return Obfuscation.from_dict(entry.get("obfuscation", {"kind": "none"})), float(
            entry.get("activation_rms", 1.0)
        )


def read_fhe_listing(
    market: MarketClient,
    store: IpfsContentStore,
    *,
    engine_id: int,
    head_weights_id: int,
    manifest_id: int,
) -> FheListing:
    """The public FHE manifest from the manifest resource's on-chain ``metadata_cid``."""
    cid = market.resource(manifest_id)["metadata_cid"]
    if not cid:
        raise FheListingInvalid(
            f"model resource {manifest_id} has no public FHE manifest (empty metadata CID)",
            hint="Order the FHE manifest resource (the one whose listing names a metadata CID).",
        )
    try:
        manifest = json.loads(store.get_bytes(cid, max_size=1 << 20))
    except ValueError as exc:
        raise FheListingInvalid(f"the FHE manifest at {cid} is not JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise FheListingInvalid(
            f"the metadata at {cid} is not an {FORMAT} document",
            hint="Check the resource ids: the manifest resource comes after the head weights.",
        )
    return FheListing(engine_id, head_weights_id, manifest_id, manifest)
