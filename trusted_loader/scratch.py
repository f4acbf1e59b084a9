"""A private scratch area for plaintext: memory-backed (tmpfs) where the machine has one, 0700,
and wiped — every file overwritten with zeros, then removed — however the order ends.

The wipe runs as root over folders an engine wrote into, so it never follows a link: every step is
relative to an open folder (``dir_fd``) with ``O_NOFOLLOW``; a symlink, FIFO or socket is unlinked,
never opened; a regular file is checked with ``fstat`` on its own descriptor before it is zeroed; a
folder on another file system (a mount the scratch does not own) is left alone. Nested folders are
moved up to the top of the tree first, so depth costs neither recursion nor descriptors.

``Scratch.mount_tmpfs`` puts a size-capped tmpfs on a folder of the area (the sandbox holds an
engine's outputs, stdout and stderr there); the scratch wipes and unmounts it with the rest.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import stat
import tempfile
from pathlib import Path

from enclava.logs import get_logger

__all__ = ["Scratch", "default_scratch_root", "wipe_tree"]

log = get_logger("trusted_loader.scratch")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = (
    os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
)
_ZEROS = bytes(1 << 20)
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_PRIVATE = 2, 4, 8, 1 << 18
_MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def default_scratch_root() -> Path:
    """``/dev/shm`` (RAM, never on disk) when it exists and is writable, else the temp folder."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def _chmod_nofollow(parent_fd: int, name: str, mode: int) -> None:
    """chmod ``name`` in ``parent_fd`` without following a link (through an O_PATH descriptor)."""
    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
    try:
        if not stat.S_ISLNK(os.fstat(fd).st_mode):
            os.chmod(f"/proc/self/fd/{fd}", mode)
    finally:
        os.close(fd)


def _open_nofollow(parent_fd: int, name: str, flags: int, mode: int) -> int:
    """Open ``name`` in ``parent_fd`` without following a link; if we lack permission, give the
    owner ``mode`` first (an engine may have left a file or folder 000)."""
    try:
        return os.open(name, flags, dir_fd=parent_fd)
    except PermissionError:
        _chmod_nofollow(parent_fd, name, mode)
        return os.open(name, flags, dir_fd=parent_fd)


def _zero_file(parent_fd: int, name: str) -> None:
    """Overwrite the regular file ``name`` with zeros; the descriptor is checked, not the name."""
    fd = _open_nofollow(parent_fd, name, _FILE_FLAGS, 0o600)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return
        left = info.st_size
        while left > 0:
            left -= os.write(fd, _ZEROS[: min(left, len(_ZEROS))])
        os.fsync(fd)
    finally:
        os.close(fd)


def _free_name(root_fd: int) -> str:
    while True:
        name = f".wipe-{secrets.token_hex(6)}"
        try:
            os.stat(name, dir_fd=root_fd, follow_symlinks=False)
        except FileNotFoundError:
            return name


def _wipe_contents(root_fd: int) -> None:
    """Zero and remove everything inside the open folder ``root_fd`` (which stays)."""
    device = os.fstat(root_fd).st_dev
    pending: list[str | None] = [None]  # None: the root itself; else a folder moved up to the root
    while pending:
        name = pending.pop()
        try:
            dir_fd = root_fd if name is None else _open_nofollow(root_fd, name, _DIR_FLAGS, 0o700)
        except OSError as exc:
            log.warning("wipe: could not open a folder", extra={"error": type(exc).__name__})
            continue
        try:
            if dir_fd != root_fd:
                try:
                    os.fchmod(dir_fd, 0o700)
                except OSError:
                    pass
            with os.scandir(dir_fd) as listing:
                entries = [entry.name for entry in listing]
            for entry in entries:
                _wipe_entry(root_fd, dir_fd, entry, device, pending)
        finally:
            if dir_fd != root_fd:
                os.close(dir_fd)
        if name is not None:
            try:
                os.rmdir(name, dir_fd=root_fd)
            except OSError as exc:
                log.warning("wipe: could not remove a folder", extra={"error": type(exc).__name__})


def _wipe_entry(
    root_fd: int, dir_fd: int, entry: str, device: int, pending: list[str | None]
) -> None:
    try:
        info = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            if info.st_dev != device:
                log.warning("wipe: left a mount point alone", extra={"error": "other_file_system"})
                return
            if dir_fd == root_fd:
                pending.append(entry)
            else:  # flatten: move it up to the root, so depth never grows
                moved = _free_name(root_fd)
                os.rename(entry, moved, src_dir_fd=dir_fd, dst_dir_fd=root_fd)
                pending.append(moved)
            return
        if stat.S_ISREG(info.st_mode):
            try:
                _zero_file(dir_fd, entry)
            except OSError as exc:
                log.warning("wipe: could not overwrite a file", extra={"error": type(exc).__name__})
        os.unlink(entry, dir_fd=dir_fd)  # links, FIFOs and sockets are removed, never opened
    except OSError as exc:  # an entry removed meanwhile
        log.warning("wipe: could not remove an entry", extra={"error": type(exc).__name__})


def wipe_tree(root: Path) -> None:
    """Overwrite every regular file under ``root`` with zeros, then delete the tree; never follows
    links."""
    try:
        root_fd = os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        return
    except NotADirectoryError:  # a link or a file where the folder should be: remove the entry only
        os.unlink(root)
        return
    try:
        try:
            os.fchmod(root_fd, 0o700)
        except OSError:
            pass
        _wipe_contents(root_fd)
    finally:
        os.close(root_fd)
    try:
        os.rmdir(root)
    except OSError as exc:
        log.warning(
            "wipe: could not remove the scratch folder", extra={"error": type(exc).__name__}
        )


def _mount_tmpfs(target: Path, options: str) -> None:
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    if (
        _libc.mount(
            b"tmpfs", os.fsencode(target), b"tmpfs", ctypes.c_ulong(flags), options.encode()
        )
        != 0
    ):
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs: {os.strerror(err)}", str(target))
    _libc.mount(
        None, os.fsencode(target), None, ctypes.c_ulong(_MS_PRIVATE), None
    )  # no propagation below


def _umount(target: Path) -> None:
    if _libc.umount2(os.fsencode(target), 0) == 0:
        return
    log.warning(
        "scratch: tmpfs busy, detaching it", extra={"error": os.strerror(ctypes.get_errno())}
    )
    if _libc.umount2(os.fsencode(target), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"umount: {os.strerror(err)}", str(target))


class Scratch:
    """``with Scratch(root) as s:`` gives ``s.path``, a fresh 0700 folder wiped on exit."""

    def __init__(self, root: Path | None = None, *, prefix: str = "enclava-order-") -> None:
        self.root = Path(root) if root else default_scratch_root()
        self.prefix = prefix
        self.path: Path | None = None
        self._mounts: list[Path] = []

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

    def contains(self, folder: Path) -> bool:
        """Whether ``folder`` (resolved) lies strictly inside this scratch area."""
        if self.path is None:
            return False
        inside, area = os.path.realpath(folder), os.path.realpath(self.path)
        return inside != area and os.path.commonpath([inside, area]) == area

    def mount_tmpfs(
        self,
        folder: Path,
        *,
        size_bytes: int,
        uid: int = 0,
        gid: int = 0,
        mode: int = 0o700,
        max_inodes: int = 65536,
    ) -> Path:
        """Mount a private tmpfs of at most ``size_bytes`` (and ``max_inodes`` entries) on
        ``folder``, an empty folder inside the area (created if missing). Needs root; raises
        ``OSError`` otherwise. Released — wiped, unmounted, removed — by :meth:`release` or on
        exit."""
        folder = Path(os.path.realpath(folder))
        if not self.contains(folder):
            raise OSError(f"{folder} is not inside the scratch area")
        folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(folder, _DIR_FLAGS)
        try:
            if os.listdir(fd):
                raise OSError(f"{folder} is not empty")
        finally:
            os.close(fd)
        pages = -(-max(int(size_bytes), 1) // 4096)
        _mount_tmpfs(
            folder, f"size={pages * 4096},nr_inodes={max_inodes},mode={mode:o},uid={uid},gid={gid}"
        )
        self._mounts.append(folder)
        return folder

    def release(self, folder: Path) -> None:
        """Wipe a tmpfs made by :meth:`mount_tmpfs`, unmount it and remove its folder."""
        folder = Path(os.path.realpath(folder))
        if folder not in self._mounts:
            raise ValueError(f"{folder} is not a tmpfs of this scratch area")
        fd = os.open(folder, _DIR_FLAGS)
        try:
            _wipe_contents(fd)
        finally:
            os.close(fd)
        _umount(folder)
        self._mounts.remove(folder)
        wipe_tree(folder)

    def __exit__(self, *exc: object) -> None:
        for folder in reversed(list(self._mounts)):
            try:
                self.release(folder)
            except OSError as error:
                log.error(
                    "scratch: could not release a tmpfs", extra={"error": type(error).__name__}
                )
        if self.path is not None:
            wipe_tree(self.path)
