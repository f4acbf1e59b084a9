"""Listing metadata: what a model owner says about a resource, validated before it is stored."""

from __future__ import annotations

import re
import time
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy.orm import Session

from enclava.protocol.tee import TeeChainName
from marketplace_api import db
from marketplace_api.bounds import UINT256_MAX

__all__ = [
    "TeeRequirements",
    "ListingMetadataIn",
    "OnChainListing",
    "RelayRequest",
    "store_metadata",
    "metadata_view",
    "KIND_NAMES",
]

KIND_NAMES = {1: "engine", 2: "model", 3: "dataset"}
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
    input_schema: dict[str, Any] = Field(description="JSON Schema of one input")
    price_wei: int = Field(ge=0, lt=2**96, description="price per use in wei (the on-chain price)")
    license: str = Field(min_length=1, max_length=120)
    engine_hash: str = Field(
        description="SHA-256 (0x hex) of the engine ciphertext the model runs with"
    )
    tee_requirements: TeeRequirements
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
    def _schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("type"), str):
            raise ValueError('must be a JSON Schema object with a "type" (e.g. {"type": "array"})')
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
        "updated_at": row.updated_at,
    }
