"""``engine.toml``: parsed with tomllib, validated with pydantic, refused with one typed error.

A customer input may name a JSON Schema file (``schema = "FILE.json"``) that describes it; the
schema travels in the engine's archive (it is part of the engine hash) and ``model publish`` puts
it into the engine's listing as ``input_schema``, so a customer's file is checked before an order
is paid for (:func:`load_input_schema`).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from enclava.protocol.engine.errors import EngineManifestInvalid

__all__ = [
    "EngineManifest",
    "EngineInfo",
    "InputSpec",
    "OutputSpec",
    "Limits",
    "MANIFEST_NAME",
    "load_manifest",
    "parse_manifest",
    "load_input_schema",
    "MAX_INPUT_SCHEMA_BYTES",
]

MANIFEST_NAME = "engine.toml"
MAX_INPUT_SCHEMA_BYTES = 16 * 1024  # the marketplace API refuses a larger listing schema
_NAME = r"^[a-z0-9-]{1,64}$"
_IDENT = r"^[a-z0-9_]{1,64}$"


def _relative_file(value: str) -> str:
    """A plain relative POSIX path inside the folder: no ``..``, no absolute path, no backslash."""
    path = PurePosixPath(value)
    if (
        not value
        or "\\" in value
        or path.is_absolute()
        or ".." in path.parts
        or value != path.as_posix()
    ):
        raise ValueError(f"must be a plain relative path, got {value!r}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineInfo(_Strict):
    name: str = Field(pattern=_NAME)
    version: str = Field(pattern=r"^[0-9A-Za-z.+-]{1,32}$")
    kind: Literal["infer", "train"]
    entrypoint: str = "main.py"

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint(cls, value: str) -> str:
        _relative_file(value)
        if not value.endswith(".py"):
            raise ValueError("entrypoint must be a .py file")
        return value


class InputSpec(_Strict):
    name: str = Field(pattern=_IDENT)
    source: Literal["model", "dataset", "customer"]
    count: Literal["one", "many"] = "one"
    schema_file: str | None = Field(default=None, alias="schema")  # customer inputs only

    @field_validator("schema_file")
    @classmethod
    def _schema_file(cls, value: str | None) -> str | None:
        if value is not None:
            _relative_file(value)
            if not value.endswith(".json"):
                raise ValueError("schema must be a .json file")
        return value

    @model_validator(mode="after")
    def _schema_for_customer(self) -> "InputSpec":
        if self.schema_file is not None and self.source != "customer":
            raise ValueError("only a customer input may declare a schema")
        return self


class OutputSpec(_Strict):
    name: str = Field(pattern=_IDENT)
    file: str

    @field_validator("file")
    @classmethod
    def _file(cls, value: str) -> str:
        return _relative_file(value)


class Limits(_Strict):
    cpu_seconds: int = Field(default=120, ge=1, le=86_400)
    memory_mb: int = Field(default=4096, ge=64, le=1_048_576)
    wall_seconds: int = Field(default=300, ge=1, le=86_400)
    output_bytes: int = Field(default=64 * 1024 * 1024, ge=1, le=1 << 40)


class EngineManifest(_Strict):
    engine: EngineInfo
    inputs: tuple[InputSpec, ...] = ()
    outputs: tuple[OutputSpec, ...] = Field(min_length=1)
    limits: Limits = Limits()

    @model_validator(mode="after")
    def _unique(self) -> "EngineManifest":
        for label, names in (
            ("input", [i.name for i in self.inputs]),
            ("output", [o.name for o in self.outputs]),
            ("output file", [o.file for o in self.outputs]),
        ):
            if len(names) != len(set(names)):
                raise ValueError(f"{label} names must be unique")
        if sum(1 for i in self.inputs if i.schema_file is not None) > 1:
            raise ValueError("at most one customer input may declare a schema")
        return self

    @property
    def name(self) -> str:
        return self.engine.name

    @property
    def kind(self) -> str:
        return self.engine.kind


def parse_manifest(text: str | bytes) -> EngineManifest:
    """Parse and validate the text of an ``engine.toml``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EngineManifestInvalid("engine.toml is not UTF-8") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EngineManifestInvalid(f"engine.toml is not valid TOML: {exc}") from exc
    try:
        return EngineManifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'manifest'}: {err['msg']}"
            for err in exc.errors()
        )
        raise EngineManifestInvalid(f"engine.toml is invalid: {problems}") from exc


def load_manifest(folder: str | Path) -> EngineManifest:
    """Read ``engine.toml`` from an engine folder and check that its entrypoint exists."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file() or path.is_symlink():
        raise EngineManifestInvalid(f"{MANIFEST_NAME} is missing from {folder}")
    manifest = parse_manifest(path.read_bytes())
    entry = Path(folder) / manifest.engine.entrypoint
    if not entry.is_file() or entry.is_symlink():
        raise EngineManifestInvalid(
            f"entrypoint {manifest.engine.entrypoint!r} is not a file in the engine"
        )
    load_input_schema(folder, manifest)
    return manifest


def load_input_schema(folder: str | Path, manifest: EngineManifest) -> dict[str, Any] | None:
    """The JSON Schema a customer input declares (``schema = "FILE.json"``), or None.

    The file must be a JSON object of at most :data:`MAX_INPUT_SCHEMA_BYTES` that is itself a
    valid JSON Schema (checked with jsonschema-rs against its meta-schema).
    """
    declared = next((i for i in manifest.inputs if i.schema_file is not None), None)
    if declared is None or declared.schema_file is None:
        return None
    path = Path(folder) / declared.schema_file
    if not path.is_file() or path.is_symlink():
        raise EngineManifestInvalid(
            f"input {declared.name!r} names schema {declared.schema_file!r}, "
            "which is not a file in the engine"
        )
    raw = path.read_bytes()
    if len(raw) > MAX_INPUT_SCHEMA_BYTES:
        raise EngineManifestInvalid(
            f"schema {declared.schema_file!r} is {len(raw)} bytes; at most "
            f"{MAX_INPUT_SCHEMA_BYTES} are listed"
        )
    try:
        schema = json.loads(raw)
    except ValueError as exc:
        raise EngineManifestInvalid(f"schema {declared.schema_file!r} is not JSON: {exc}") from exc
    if not isinstance(schema, dict):
        raise EngineManifestInvalid(f"schema {declared.schema_file!r} must be a JSON object")
    import jsonschema_rs

    try:
        jsonschema_rs.meta.validate(schema)
    except (jsonschema_rs.ValidationError, ValueError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise EngineManifestInvalid(
            f"schema {declared.schema_file!r} is not a valid JSON Schema: {message}"
        ) from exc
    return schema
