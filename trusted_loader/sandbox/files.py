"""Root's file operations around a run, none of which follows a link.

``share_inputs`` gives the sandbox's group read access to the input tree (``fchown``/``fchmod`` on
descriptors opened with ``O_NOFOLLOW``; links are re-owned with ``lchown`` and never chmod-ed).
``scan_outputs`` lists what the engine left in its output folder: regular files with their sizes,
and everything else (links, FIFOs, sockets, trees too deep) as odd entries that fail the run.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["MAX_OUTPUT_DEPTH", "MAX_OUTPUT_ENTRIES", "scan_outputs", "share_inputs"]

MAX_OUTPUT_DEPTH = 32
MAX_OUTPUT_ENTRIES = 100_000
_MAX_INPUT_DEPTH = 32
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


def share_inputs(input_dir: Path, gid: int) -> None:
    """Let group ``gid`` read the inputs: folders get r-x, files r--, for the group only."""
    fd = os.open(input_dir, _DIR)
    try:
        _share(fd, gid, depth=0)
    finally:
        os.close(fd)


def _share(dir_fd: int, gid: int, depth: int) -> None:
    if depth > _MAX_INPUT_DEPTH:
        raise OSError("the input tree is too deep")
    info = os.fstat(dir_fd)
    os.fchown(dir_fd, -1, gid)
    os.fchmod(dir_fd, (info.st_mode & 0o700) | 0o050)
    with os.scandir(dir_fd) as listing:
        names = [entry.name for entry in listing]
    for name in names:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            os.chown(name, -1, gid, dir_fd=dir_fd, follow_symlinks=False)
        elif stat.S_ISDIR(mode):
            child = os.open(name, _DIR, dir_fd=dir_fd)
            try:
                _share(child, gid, depth + 1)
            finally:
                os.close(child)
        elif stat.S_ISREG(mode):
            child = os.open(name, _FILE, dir_fd=dir_fd)
            try:
                if stat.S_ISREG(os.fstat(child).st_mode):
                    os.fchown(child, -1, gid)
                    os.fchmod(child, (mode & 0o700) | 0o040)
            finally:
                os.close(child)


def _open_path(root_fd: int, parts: tuple[str, ...]) -> int:
    """Open the folder ``parts`` below ``root_fd``, one component at a time, never through a
    link."""
    fd = os.dup(root_fd)
    for part in parts:
        try:
            child = os.open(part, _DIR, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    return fd


def scan_outputs(output_dir: Path) -> tuple[dict[str, int], list[str]]:
    """(relative path -> size of each regular file, relative paths of every other entry)."""
    sizes: dict[str, int] = {}
    odd: list[str] = []
    root_fd = os.open(output_dir, _DIR)
    try:
        pending: list[tuple[str, ...]] = [()]
        seen = 0
        while pending:
            parts = pending.pop()
            fd = _open_path(root_fd, parts)
            try:
                with os.scandir(fd) as listing:
                    names = [entry.name for entry in listing]
                for name in names:
                    seen += 1
                    rel = "/".join((*parts, name))
                    mode = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    if seen > MAX_OUTPUT_ENTRIES:
                        odd.append(rel)
                        return sizes, odd
                    if stat.S_ISREG(mode.st_mode):
                        sizes[rel] = mode.st_size
                    elif stat.S_ISDIR(mode.st_mode) and len(parts) < MAX_OUTPUT_DEPTH:
                        pending.append((*parts, name))
                    else:
                        odd.append(rel)
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)
    return sizes, odd
