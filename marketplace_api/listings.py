"""Listing metadata: what a model owner says about a resource, validated before it is stored.

What an order needs is declared here: an engine's ``input_schema`` (a JSON Schema of the customer's
input file, at most :data:`MAX_INPUT_SCHEMA_BYTES`, itself valid against its meta-schema) and a
model's or dataset's ``engine_resource_id`` (the engine these weights are for; accepted only for an
engine listed by the same owner, see :func:`check_engine_pairing`). The engine's listing shows the
weights that name it (``weights``).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from enclava.protocol.tee import TeeChainName
from marketplace_api import db
from marketplace_api.bounds import UINT256_MAX
from marketplace_api.errors import ListingInvalid

__all__ = [
    "TeeRequirements",
    "ListingMetadataIn",
    "OnChainListing",
    "RelayRequest",
    "store_metadata",
    "metadata_view",
    "check_engine_pairing",
    "KIND_NAMES",
    "MAX_INPUT_SCHEMA_BYTES",
]

KIND_NAMES = {1: "engine", 2: "model", 3: "dataset"}
MAX_INPUT_SCHEMA_BYTES = 16 * 1024  # of the schema's compact JSON
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
TeeName = TeeChainName


class TeeRequirements(BaseModel):
    model_config = {"extra": "forbid"}
    tee_types: list[TeeName] = Field(min_length=1, description="TEE families the model may run on")
    gpu_class: str | None = Field(
        default=None, max_length=32, description='e.g. "H100-80GB"; none means any'
    )
    min_memory_gb: int | None = Field(default=None, ge=1, le=4096)


class ListingMetadataIn(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=5000)
    task: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description='e.g. "image-classification"'
    )
    input_schema: dict[str, Any] | None = Field(
        default=None,
        description="engines: JSON Schema of the customer's input file (a .npy is checked as its "
        "array's nested lists); none: the engine declares no input format",
    )
    price_wei: int = Field(ge=0, lt=2**96, description="price per use in wei (the on-chain price)")
    license: str = Field(min_length=1, max_length=120)
    engine_hash: str = Field(
        description="SHA-256 (0x hex) of the engine ciphertext the model runs with"
    )
    tee_requirements: TeeRequirements
    engine_resource_id: int | None = Field(
        default=None,
        ge=1,
        le=2**256 - 1,
        description="models and datasets: the engine (listed by the same owner) they are for",
    )
    tail_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https?://[^\s]+$",
        description="split models: https base URL of the owner's tail service (`enclava "
        "model serve-tail`) on a public address, reached through POST "
        "/v1/models/{id}/tail/{split}",
    )

    @field_validator("engine_hash")
    @classmethod
    def _hash(cls, value: str) -> str:
        if not _HASH.match(value):
            raise ValueError("must be 0x followed by 64 hex digits")
        return value.lower()

    @field_validator("input_schema")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        size = len(json.dumps(value, separators=(",", ":")).encode())
        if size > MAX_INPUT_SCHEMA_BYTES:
            raise ValueError(f"is {size} bytes of JSON; at most {MAX_INPUT_SCHEMA_BYTES}")
        import jsonschema_rs

        try:
            jsonschema_rs.meta.validate(value)
        except (jsonschema_rs.ValidationError, ValueError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            raise ValueError(f"is not a valid JSON Schema: {message}") from exc
        return value


class OnChainListing(BaseModel):
    """``IResourceRegistry.Listing`` as JSON."""

    model_config = {"extra": "forbid"}
    kind: Literal[1, 2, 3]
    cid: str = Field(min_length=1, max_length=200)
    content_hash: str
    price_wei: int = Field(ge=0, lt=2**96)
    metadata_cid: str = Field(default="", max_length=200)

    @field_validator("content_hash")
    @classmethod
    def _hash(cls, value: str) -> str:
        if not _HASH.match(value) or int(value, 16) == 0:
            raise ValueError("must be a non-zero 0x + 64 hex digit SHA-256")
        return value.lower()

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.kind,
            self.cid,
            bytes.fromhex(self.content_hash[2:]),
            self.price_wei,
            self.metadata_cid,
        )


class RelayRequest(BaseModel):
    model_config = {"extra": "forbid"}
    owner: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    listing: OnChainListing
    deadline: int = Field(
        gt=0, le=UINT256_MAX, description="unix seconds after which the signature is void"
    )
    signature: str = Field(
        pattern=r"^(0x)?[0-9a-fA-F]{130}$", description="EIP-712 ListResource signature"
    )
    metadata: ListingMetadataIn


def store_metadata(
    session: Session, resource_id: int, owner: str, meta: ListingMetadataIn
) -> db.ListingMetadata:
    values = dict(
        owner=owner,
        name=meta.name,
        description=meta.description,
        task=meta.task,
        input_schema=meta.input_schema,
        price_wei=str(meta.price_wei),
        license=meta.license,
        engine_hash=meta.engine_hash,
        tee_requirements=meta.tee_requirements.model_dump(),
        tail_url=meta.tail_url,
        engine_resource_id=meta.engine_resource_id,
        tee_types="," + ",".join(meta.tee_requirements.tee_types) + ",",
        updated_at=time.time(),
    )
    row: db.ListingMetadata | None = session.get(db.ListingMetadata, resource_id)
    if row is None:
        row = db.ListingMetadata(resource_id=resource_id, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    return row


def metadata_view(row: db.ListingMetadata | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "name": row.name,
        "description": row.description,
        "task": row.task,
        "input_schema": row.input_schema,
        "price_wei": row.price_wei,
        "license": row.license,
        "engine_hash": row.engine_hash,
        "tee_requirements": row.tee_requirements,
        "tail_url": row.tail_url,
        "engine_resource_id": row.engine_resource_id,
        "updated_at": row.updated_at,
    }


def check_engine_pairing(
    chain_resource: Any, kind: int, owner: str, meta: ListingMetadataIn
) -> None:
    """Refuse a pairing the listing may not declare, before anything is relayed or stored.

    ``chain_resource(id)`` is ``IResourceRegistry.getResource`` as a tuple (owner first, kind
    fourth); a weights or dataset listing may name only an engine that its own owner listed on
    chain, and an engine names none.
    """
    if meta.engine_resource_id is None:
        return
    if kind == 1:
        raise ListingInvalid(
            "an engine's listing cannot name an engine (engine_resource_id)",
            hint="Name the engine in its weights' or dataset's listing instead.",
        )
    try:
        engine = chain_resource(meta.engine_resource_id)
    except Exception as exc:  # noqa: BLE001 - an unknown id reverts; any failure refuses
        raise ListingInvalid(
            f"engine_resource_id {meta.engine_resource_id} is no resource on this chain",
            hint="Give the resource id of your engine, as `model publish` printed it.",
        ) from exc
    engine_owner, engine_kind = str(engine[0]), int(engine[3])
    if engine_kind != 1:
        raise ListingInvalid(
            f"engine_resource_id {meta.engine_resource_id} is a "
            f"{KIND_NAMES.get(engine_kind, 'resource')}, not an engine",
            hint="Give the resource id of an engine.",
        )
    if engine_owner.lower() != owner.lower():
        raise ListingInvalid(
            f"engine {meta.engine_resource_id} is listed by {engine_owner}, not by {owner}",
            hint="Weights may name only an engine of their own owner.",
        )
