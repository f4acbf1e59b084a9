"""A content store on a real IPFS node (Kubo), through its RPC API.

Uploads stream from a file or file object and are pinned; downloads stream to a file while their
SHA-256 is computed, and the CID is re-derived from the downloaded bytes with the same import
parameters (``add --only-hash``), so a node or peer that serves altered blocks is caught. The
SHA-256 check against the value recorded on chain is what protects an order; the CID check
catches a store that maps a CID to the wrong bytes.

ipfshttpclient 0.7 refuses daemons newer than 0.8 in ``connect()``, so the client is constructed
directly; every call used here is exercised against the real Kubo in the integration tests. Its
``object.stat`` was removed from Kubo, so ``stat`` uses ``files.stat`` on an ``/ipfs/`` path.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Protocol

import ipfshttpclient
import ipfshttpclient.exceptions as ipfs_errors

from enclava.errors import ContentNotFound, IntegrityError, StorageError, StorageUnavailable

__all__ = ["IpfsContentStore", "StoredObject", "ObjectStat", "Progress"]

Progress = Callable[[int], None]  # called with the number of bytes just moved

# Import parameters fixed for every upload, so a CID can be re-derived from the bytes alone.
_IMPORT = {"cid_version": 1, "raw_leaves": True, "chunker": "size-262144"}


class _HasIpfsApi(Protocol):
    """What :meth:`IpfsContentStore.from_manifest` reads of a devnet manifest."""

    @property
    def ipfs_api(self) -> str: ...


@dataclass(frozen=True)
class StoredObject:
    cid: str
    size: int
    sha256: str  # hex


@dataclass(frozen=True)
class ObjectStat:
    cid: str
    size: int
    cumulative_size: int
    type: str


class _HashingReader(io.RawIOBase):
    """Wraps a binary stream: hashes and counts what is read, and reports progress."""

    def __init__(self, inner: BinaryIO, progress: Progress | None) -> None:
        self._inner = inner
        self._progress = progress
        self.digest = hashlib.sha256()
        self.size = 0
        self.name = "blob"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]  # narrower than Buffer
        data = self._inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.digest.update(data)
        self.size += n
        if self._progress and n:
            self._progress(n)
        return n


def _multiaddr(api_url: str) -> str:
    if api_url.startswith("/"):
        return api_url
    host_port = api_url.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    if not port.isdigit():
        raise StorageError(
            f"invalid IPFS API URL {api_url!r}",
            hint="Use http://HOST:PORT, e.g. http://127.0.0.1:5001.",
        )
    return (
        f"/ip4/{host}/tcp/{port}" if host.replace(".", "").isdigit() else f"/dns/{host}/tcp/{port}"
    )


class IpfsContentStore:
    """Add, get, pin and stat content on one Kubo node.

    ``offline=True`` tells the node not to look for missing blocks on the network (the devnet's
    single node), so an unknown CID fails at once instead of waiting for peers.
    """

    def __init__(self, api_url: str, *, offline: bool = False, timeout: float = 120.0) -> None:
        self.api_url = api_url
        self._client = ipfshttpclient.Client(_multiaddr(api_url), offline=offline, timeout=timeout)

    @classmethod
    def from_manifest(cls, manifest: _HasIpfsApi) -> "IpfsContentStore":
        return cls(manifest.ipfs_api, offline=True)

    # -- calls -------------------------------------------------------------------------------
    @contextmanager
    def _translated(self, what: str, cid: str | None = None) -> Iterator[None]:
        try:
            with warnings.catch_warnings():
                # ipfshttpclient passes urllib3 a long-deprecated 'strict' flag on every request
                warnings.simplefilter("ignore", FutureWarning)
                yield
        except ipfs_errors.ConnectionError as exc:
            raise StorageUnavailable(
                f"cannot reach the IPFS API at {self.api_url} ({what})"
            ) from exc
        except ipfs_errors.TimeoutError as exc:
            raise StorageUnavailable(
                f"the IPFS node timed out ({what})",
                hint="The content may be unavailable; retry later.",
            ) from exc
        except ipfs_errors.ErrorResponse as exc:
            text = str(exc)
            if cid is not None and any(
                s in text
                for s in (
                    "not found",
                    "could not find",
                    "invalid path",
                    "invalid cid",
                    "not pinned",
                    "selected encoding",
                )
            ):
                raise ContentNotFound(f"{what}: {cid} is not available ({text})") from exc
            raise StorageError(f"the IPFS node refused {what}: {text}") from exc
        except ipfs_errors.Error as exc:
            raise StorageError(f"IPFS {what} failed: {exc}") from exc

    def version(self) -> str:
        with self._translated("version"):
            return str(self._client.version()["Version"])

    def add(
        self,
        source: BinaryIO | Path | str | bytes,
        *,
        pin: bool = True,
        progress: Progress | None = None,
    ) -> StoredObject:
        """Upload (streaming) and pin; returns the CID, size and SHA-256 of what was stored."""
        with _opened(source) as stream:
            reader = _HashingReader(stream, progress)
            with self._translated("add"):
                reply = self._client.add(reader, pin=pin, **_IMPORT)
        return StoredObject(cid=reply["Hash"], size=reader.size, sha256=reader.digest.hexdigest())

    def _cid_of(self, path: Path) -> str:
        with open(path, "rb") as stream, self._translated("hash"):
            return str(self._client.add(stream, only_hash=True, pin=False, **_IMPORT)["Hash"])

    def iter_content(self, cid: str) -> Iterator[bytes]:
        """Stream the raw bytes of ``cid`` (unverified: prefer :meth:`get`)."""
        with self._translated("cat", cid):
            chunks = self._client.cat(cid, stream=True)
            yield from chunks

    def get(
        self,
        cid: str,
        dest: Path | str,
        *,
        expected_sha256: str | None = None,
        max_size: int | None = None,
        progress: Progress | None = None,
    ) -> StoredObject:
        """Download ``cid`` into ``dest``, verifying its SHA-256 and its CID.

        On any mismatch ``dest`` is deleted and :class:`IntegrityError` is raised, so unverified
        bytes are never left where a caller might use them.
        """
        dest = Path(dest)
        digest, size = hashlib.sha256(), 0
        try:
            with open(dest, "wb") as out:
                with self._translated("cat", cid):
                    for chunk in self._client.cat(cid, stream=True):
                        size += len(chunk)
                        if max_size is not None and size > max_size:
                            raise IntegrityError(
                                f"{cid} is larger than the allowed {max_size} bytes"
                            )
                        digest.update(chunk)
                        out.write(chunk)
                        if progress:
                            progress(len(chunk))
            actual = digest.hexdigest()
            if expected_sha256 is not None and actual != expected_sha256.lower().removeprefix("0x"):
                raise IntegrityError(f"SHA-256 of {cid} is {actual}, expected {expected_sha256}")
            derived = self._cid_of(dest)
            if derived != cid:
                raise IntegrityError(
                    f"downloaded bytes hash to CID {derived}, not the requested {cid}"
                )
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return StoredObject(cid=cid, size=size, sha256=actual)

    def get_bytes(
        self, cid: str, *, expected_sha256: str | None = None, max_size: int = 64 << 20
    ) -> bytes:
        """Download and verify a small object into memory (via a private temporary file)."""
        fd, tmp = tempfile.mkstemp(prefix="enclava-get-")
        os.close(fd)
        try:
            self.get(cid, tmp, expected_sha256=expected_sha256, max_size=max_size)
            return Path(tmp).read_bytes()
        finally:
            Path(tmp).unlink(missing_ok=True)

    def pin(self, cid: str) -> None:
        with self._translated("pin", cid):
            self._client.pin.add(cid)

    def unpin(self, cid: str) -> None:
        with self._translated("unpin", cid):
            self._client.pin.rm(cid)

    def is_pinned(self, cid: str) -> bool:
        try:
            with self._translated("pin ls", cid):
                keys = self._client.pin.ls(cid, type="recursive")["Keys"]
        except ContentNotFound:
            return False
        return cid in keys

    def stat(self, cid: str) -> ObjectStat:
        with self._translated("stat", cid):
            reply = self._client.files.stat(f"/ipfs/{cid}")
        return ObjectStat(
            cid=reply["Hash"],
            size=int(reply["Size"]),
            cumulative_size=int(reply["CumulativeSize"]),
            type=str(reply["Type"]),
        )

    def close(self) -> None:
        self._client.close()


@contextmanager
def _opened(source: BinaryIO | Path | str | bytes) -> Iterator[BinaryIO]:
    if isinstance(source, (bytes, bytearray)):
        yield io.BytesIO(source)
    elif isinstance(source, (str, Path)):
        with open(source, "rb") as stream:
            yield stream
    else:
        yield source
