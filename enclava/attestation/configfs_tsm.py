"""Evidence from TDX and SEV-SNP hardware through the Linux configfs-tsm report interface.

The kernel (>= 6.7) exposes ``/sys/kernel/config/tsm/report``: creating a directory there makes a
report entry whose attributes are files. The exchange, per the kernel's ABI document::

    mkdir <entry>             (kernel creates inblob, outblob, auxblob, provider, generation, ...)
    read provider             "tdx_guest" or "sev_guest": the TEE must be the one we expect
    write inblob              our 64-byte report_data; the kernel bumps generation
    read generation           g1
    read outblob [auxblob]    the quote (TDX) or report (SNP) [+ SNP certificate table]
    read generation           g2 != g1 means another writer touched the entry: the blob may not
                              be ours, so retry on a fresh entry, then fail typed
    rmdir <entry>

All filesystem access goes through :class:`TsmFs` so unit tests can stand a fake kernel on a tmp
folder; the real one is plain ``os`` calls.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from enclava.attestation.errors import AttesterError, TsmGenerationError, TsmUnavailableError
from enclava.protocol.tee import TeeType

__all__ = ["TSM_REPORT_ROOT", "TSM_PROVIDERS", "TsmFs", "TsmReport", "ConfigfsTsm"]

log = logging.getLogger(__name__)

TSM_REPORT_ROOT = Path("/sys/kernel/config/tsm/report")
TSM_PROVIDERS = {TeeType.TDX: "tdx_guest", TeeType.SEV_SNP: "sev_guest"}
_MAX_INBLOB = 64


class TsmFs:
    """The filesystem operations the exchange needs (a seam for unit tests' fake kernel)."""

    def mkdir(self, path: Path) -> None:
        os.mkdir(path)

    def rmdir(self, path: Path) -> None:
        os.rmdir(path)

    def read(self, path: Path) -> bytes:
        with open(path, "rb") as handle:
            return handle.read()

    def write(self, path: Path, data: bytes) -> None:
        with open(path, "wb", buffering=0) as handle:  # one write() call, as configfs expects
            handle.write(data)


@dataclass(frozen=True)
class TsmReport:
    provider: str
    generation: int
    outblob: bytes
    auxblob: bytes


class ConfigfsTsm:
    """One configfs-tsm report request per :meth:`report` call, retried on generation races."""

    def __init__(
        self, *, root: Path = TSM_REPORT_ROOT, fs: TsmFs | None = None, max_attempts: int = 3
    ) -> None:
        if max_attempts < 1:
            raise AttesterError("max_attempts must be at least 1")
        self.root, self._fs, self._max_attempts = Path(root), fs or TsmFs(), max_attempts

    def report(
        self,
        inblob: bytes,
        *,
        tee_type: TeeType,
        read_auxblob: bool = False,
        privlevel: int | None = None,
    ) -> TsmReport:
        if not isinstance(inblob, bytes) or not 0 < len(inblob) <= _MAX_INBLOB:
            raise AttesterError(f"inblob must be 1 to {_MAX_INBLOB} bytes")
        expected = TSM_PROVIDERS.get(tee_type)
        if expected is None:
            raise AttesterError(f"configfs-tsm cannot produce {tee_type.wire_name} evidence")
        for attempt in range(1, self._max_attempts + 1):
            entry = self._create_entry()
            try:
                result = self._exchange(entry, inblob, expected, read_auxblob, privlevel)
            finally:
                self._remove_entry(entry)
            if result is not None:
                return result
            log.warning(
                "configfs-tsm generation changed during report (attempt %d of %d)",
                attempt,
                self._max_attempts,
            )
        raise TsmGenerationError(
            f"configfs-tsm entry was modified concurrently on all {self._max_attempts} attempts"
        )

    def _create_entry(self) -> Path:
        entry = self.root / f"enclava-{os.getpid()}-{secrets.token_hex(8)}"
        try:
            self._fs.mkdir(entry)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise TsmUnavailableError(f"no configfs-tsm report interface at {self.root}") from exc
        except PermissionError as exc:
            raise TsmUnavailableError(
                f"not allowed to create a report entry under {self.root}",
                hint="Run the trusted loader as root inside the confidential VM.",
            ) from exc
        except OSError as exc:
            raise AttesterError(
                f"cannot create a configfs-tsm report entry: {exc.strerror}"
            ) from exc
        return entry

    def _remove_entry(self, entry: Path) -> None:
        try:
            self._fs.rmdir(entry)
        except OSError as exc:  # a leftover entry is harmless; never mask the real outcome
            log.warning("could not remove configfs-tsm entry %s: %s", entry.name, exc.strerror)

    def _exchange(
        self,
        entry: Path,
        inblob: bytes,
        expected_provider: str,
        read_auxblob: bool,
        privlevel: int | None,
    ) -> TsmReport | None:
        """The report, or None when the generation moved between our write and our read."""
        try:
            provider = self._fs.read(entry / "provider").decode("ascii", "replace").strip()
            if provider != expected_provider:
                raise AttesterError(
                    f"this guest's TSM provider is {provider!r}, not {expected_provider!r}",
                    hint="Pick the attester that matches the guest's TEE (TDX or SEV-SNP).",
                )
            if privlevel is not None:
                self._fs.write(entry / "privlevel", str(privlevel).encode())
            self._fs.write(entry / "inblob", inblob)
            generation = self._generation(entry)
            outblob = self._fs.read(entry / "outblob")
            auxblob = self._fs.read(entry / "auxblob") if read_auxblob else b""
            if self._generation(entry) != generation:
                return None
        except OSError as exc:
            raise AttesterError(f"configfs-tsm report failed: {exc.strerror or exc}") from exc
        if not outblob:
            raise AttesterError("configfs-tsm returned an empty report")
        return TsmReport(provider=provider, generation=generation, outblob=outblob, auxblob=auxblob)

    def _generation(self, entry: Path) -> int:
        text = self._fs.read(entry / "generation").decode("ascii", "replace").strip()
        if not text.isdigit():
            raise AttesterError(f"configfs-tsm generation is not a number: {text[:20]!r}")
        return int(text)
