"""The split model format: a folder with ``manifest.json`` and one ``.npz`` per head and per tail.

No pickle anywhere: weights load with ``allow_pickle=False`` and each file's SHA-256 is pinned in
the manifest, checked on load. The manifest declares the split points the model owner allows; each
names its head (shape, activation x², the activation scale ``activation_rms`` that obfuscation
amounts are relative to), its tail (dense layers), the obfuscation the enclave applies before the
owner sees anything, and the figures measured when it was built. ``policy`` carries the listing's
limits, e.g. ``max_queries_per_customer`` against weight recovery in customer-decrypt mode.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from enclava.splitnn.errors import ActivationShapeError, ModelFormatError, UnknownSplit
from enclava.splitnn.obfuscation import Obfuscation

__all__ = [
    "FORMAT",
    "DEFAULT_MODEL_DIR",
    "HeadWeights",
    "TailWeights",
    "SplitModel",
    "load_model",
    "load_head",
    "load_tail",
    "write_model",
    "file_sha256",
]

FORMAT = "enclava-splitnn/1"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[2] / "engines" / "splitnn_model"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _as_batch(x: np.ndarray, width: int, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != width:
        raise ActivationShapeError(f"{what} must have shape [n, {width}], got {list(x.shape)}")
    if not np.all(np.isfinite(x)):
        raise ActivationShapeError(f"{what} contains NaN or infinite values")
    return x


@dataclass(frozen=True)
class HeadWeights:
    """What the enclave evaluates on the ciphertext: weight, bias, then x²."""

    split: str
    kind: str  # "linear": weight [out, 784]; "conv2d": weight [c, 1, k, k], stride
    weight: np.ndarray
    bias: np.ndarray
    stride: int
    output_dim: int
    activation_rms: float
    obfuscation: Obfuscation

    def pre_activation(self, x: np.ndarray) -> np.ndarray:
        x = _as_batch(x, 784, "head input")
        if self.kind == "linear":
            dense: np.ndarray = x @ self.weight.T.astype(np.float64) + self.bias
            return dense
        c, _, k, _ = self.weight.shape
        imgs = x.reshape(-1, 28, 28)
        side = (28 - k) // self.stride + 1
        rows = np.arange(side)[:, None] * self.stride + np.arange(k)[None, :]  # [side, k]
        patches = imgs[:, rows[:, None, :, None], rows[None, :, None, :]]  # [n, side, side, k, k]
        out: np.ndarray = np.einsum(
            "nijab,cab->ncij", patches, self.weight[:, 0].astype(np.float64)
        )
        conv: np.ndarray = (out + self.bias[None, :, None, None]).reshape(len(x), -1)
        return conv  # channel-major

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Plaintext reference of the head (float64): [n, 784] → [n, output_dim]."""
        z = self.pre_activation(x)
        squared: np.ndarray = z * z
        return squared


@dataclass(frozen=True)
class TailWeights:
    """The model owner's layers: dense + ReLU, last dense + softmax."""

    split: str
    input_dim: int
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]

    def logits(self, z: np.ndarray) -> np.ndarray:
        h = _as_batch(z, self.input_dim, f"activations for split {self.split!r}")
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T.astype(np.float64) + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return h

    def predict_proba(self, z: np.ndarray) -> np.ndarray:
        logits = self.logits(z)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return proba

    def predict(self, z: np.ndarray) -> np.ndarray:
        labels: np.ndarray = self.logits(z).argmax(axis=1)
        return labels


@dataclass
class SplitModel:
    root: Path
    manifest: dict[str, Any]  # manifest.json as read (JSON from outside)
    _cache: dict[tuple[str, str], dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        return sorted(self.manifest["splits"])

    @property
    def policy(self) -> dict[str, Any]:
        return dict(self.manifest.get("policy", {}))

    def entry(self, split: str) -> dict[str, Any]:
        if split not in self.manifest["splits"]:
            raise UnknownSplit(
                f"split point {split!r} is not allowed by model {self.manifest.get('name')!r}; "
                f"allowed: {', '.join(self.splits)}"
            )
        entry: dict[str, Any] = self.manifest["splits"][split]
        return entry

    def _arrays(self, split: str, part: str) -> dict[str, np.ndarray]:
        name = self.entry(split)[part]["file"]
        if (split, part) not in self._cache:
            path = self.root / name
            expected = self.manifest.get("sha256", {}).get(name)
            if not path.is_file() or expected is None:
                raise ModelFormatError(
                    f"{part} weights {name!r} of split {split!r} are missing or not pinned"
                )
            if file_sha256(path) != expected:
                raise ModelFormatError(
                    f"{name!r} does not match the SHA-256 pinned in manifest.json",
                    hint="The weights were altered; rebuild or re-download the model.",
                )
            try:
                with np.load(path, allow_pickle=False) as data:
                    self._cache[(split, part)] = {k: data[k] for k in data.files}
            except (ValueError, OSError) as exc:
                raise ModelFormatError(f"cannot read {name!r} as a pickle-free .npz") from exc
        return self._cache[(split, part)]

    def head(self, split: str) -> HeadWeights:
        entry, arrays = self.entry(split), self._arrays(split, "head")
        spec = entry["head"]
        weight, bias = arrays["weight"].astype(np.float32), arrays["bias"].astype(np.float32)
        if list(weight.shape) != spec["weight_shape"] or list(bias.shape) != spec["bias_shape"]:
            raise ModelFormatError(f"head weights of {split!r} do not have the declared shapes")
        return HeadWeights(
            split,
            spec["kind"],
            weight,
            bias,
            int(spec.get("stride", 1)),
            int(spec["output_dim"]),
            float(entry["activation_rms"]),
            Obfuscation.from_dict(entry["obfuscation"]),
        )

    def tail(self, split: str) -> TailWeights:
        entry, arrays = self.entry(split), self._arrays(split, "tail")
        layers, width = [], int(entry["head"]["output_dim"])
        for i, layer in enumerate(entry["tail"]["layers"]):
            w, b = arrays[f"w{i}"].astype(np.float32), arrays[f"b{i}"].astype(np.float32)
            if w.shape != (layer["out"], width) or b.shape != (layer["out"],):
                raise ModelFormatError(
                    f"tail layer {i} of {split!r} does not have the declared shape"
                )
            layers.append((w, b))
            width = layer["out"]
        return TailWeights(split, int(entry["head"]["output_dim"]), tuple(layers))


def load_model(model_dir: str | Path = DEFAULT_MODEL_DIR) -> SplitModel:
    root = Path(model_dir)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except FileNotFoundError as exc:
        raise ModelFormatError(f"no manifest.json in {str(root)!r}") from exc
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"manifest.json in {str(root)!r} is not valid JSON") from exc
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("splits"), dict):
        raise ModelFormatError(f"{str(root)!r} is not an {FORMAT} model folder")
    return SplitModel(root, manifest)


def load_head(split_name: str, model_dir: str | Path = DEFAULT_MODEL_DIR) -> HeadWeights:
    return load_model(model_dir).head(split_name)


def load_tail(split_name: str, model_dir: str | Path = DEFAULT_MODEL_DIR) -> TailWeights:
    return load_model(model_dir).tail(split_name)


def write_model(
    root: str | Path, manifest: dict[str, Any], arrays: dict[str, dict[str, np.ndarray]]
) -> Path:
    """Write ``arrays`` (file name → arrays) as .npz files and the manifest with their hashes."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for name, content in sorted(arrays.items()):
        # dict[str, Any]: numpy's stub would match the ** names against savez's allow_pickle: bool
        payload: dict[str, Any] = {k: np.ascontiguousarray(v) for k, v in content.items()}
        np.savez(root / name, **payload)
        hashes[name] = file_sha256(root / name)
    full = {**manifest, "format": FORMAT, "sha256": hashes}
    (root / "manifest.json").write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return root
