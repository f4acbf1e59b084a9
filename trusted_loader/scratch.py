"""A private scratch area for plaintext: memory-backed (tmpfs) where the machine has one, 0700,
and wiped — every file overwritten with zeros, then removed — however the order ends."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from enclava.logs import get_logger

__all__ = ["Scratch", "default_scratch_root", "wipe_tree"]

log = get_logger("trusted_loader.scratch")


def default_scratch_root() -> Path:
    """``/dev/shm`` (RAM, never on disk) when it exists and is writable, else the temp folder."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def wipe_tree(root: Path) -> None:
    """Overwrite every regular file under ``root`` with zeros, then delete the tree."""
    if not root.exists():
        return
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                path.chmod(0o600)
                size = path.stat().st_size
                with open(path, "r+b") as handle:
                    handle.write(b"\0" * size)
                    handle.flush()
                    os.fsync(handle.fileno())
        except OSError as exc:  # a file the engine made read-only or removed meanwhile
            log.warning("wipe: could not overwrite a file", extra={"error": type(exc).__name__})
    for path in [p for p in root.rglob("*") if p.is_dir()] + [root]:
        try:
            path.chmod(0o700)
        except OSError:
            pass
    shutil.rmtree(root, ignore_errors=True)


class Scratch:
    """``with Scratch(root) as s:`` gives ``s.path``, a fresh 0700 folder wiped on exit."""

    def __init__(self, root: Path | None = None, *, prefix: str = "enclava-order-") -> None:
        self.root = Path(root) if root else default_scratch_root()
        self.prefix = prefix
        self.path: Path | None = None

    def __enter__(self) -> "Scratch":
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=self.prefix, dir=self.root))
        os.chmod(self.path, 0o700)
        return self

    def sub(self, name: str, mode: int = 0o700) -> Path:
        """A folder in the scratch area; the area itself stays 0700, so ``mode`` only matters to
        processes that get the folder mounted (the sandbox reads the engine's code, 0755)."""
        assert self.path is not None
        folder = self.path / name
        folder.mkdir(mode=mode, parents=True, exist_ok=True)
        os.chmod(folder, mode)
        return folder

    def __exit__(self, *exc) -> None:
        if self.path is not None:
            wipe_tree(self.path)
