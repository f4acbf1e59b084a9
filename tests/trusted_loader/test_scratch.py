"""The scratch area: a wipe that zeroes and removes without ever following a link, and its tmpfs
mounts."""

from __future__ import annotations

import errno
import os
import socket
import stat

import pytest

from trusted_loader.scratch import Scratch, wipe_tree

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


def _mount_points() -> set[str]:
    with open("/proc/self/mountinfo") as handle:
        return {line.split()[4] for line in handle}


@pytest.fixture
def host(tmp_path):
    """A folder and a file outside the tree, as a host's would be: the wipe must leave both
    alone."""
    folder = tmp_path / "host"
    folder.mkdir()
    (folder / "keep.txt").write_text("host data")
    os.chmod(folder, 0o755)
    os.chmod(folder / "keep.txt", 0o644)
    return folder


def test_wipe_removes_links_without_touching_their_targets(tmp_path, host):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "dir-link").symlink_to(host)
    (tree / "file-link").symlink_to(host / "keep.txt")
    (tree / "sub" / "dir-link").symlink_to(host)
    (tree / "dangling").symlink_to(tmp_path / "nowhere")
    wipe_tree(tree)
    assert not tree.exists()
    assert stat.S_IMODE(host.stat().st_mode) == 0o755
    assert (host / "keep.txt").read_text() == "host data"
    assert stat.S_IMODE((host / "keep.txt").stat().st_mode) == 0o644


def test_wipe_of_a_root_that_is_a_link_removes_only_the_link(tmp_path, host):
    link = tmp_path / "scratch-link"
    link.symlink_to(host)
    wipe_tree(link)
    assert not link.is_symlink() and (host / "keep.txt").read_text() == "host data"


def test_wipe_zeroes_file_contents_before_removing_them(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    secret = tree / "plain.bin"
    secret.write_bytes(b"customer plaintext" * 100_000)
    with open(
        secret, "rb"
    ) as still_open:  # the inode outlives the unlink: read what the wipe left in it
        wipe_tree(tree)
        assert still_open.read() == bytes(len(b"customer plaintext") * 100_000)
    assert not tree.exists()


def test_wipe_handles_locked_files_fifos_and_sockets(tmp_path):
    tree = tmp_path / "tree"
    (tree / "locked").mkdir(parents=True)
    (tree / "locked" / "file").write_bytes(b"x" * 10)
    os.chmod(tree / "locked" / "file", 0)
    os.chmod(tree / "locked", 0)
    os.mkfifo(tree / "fifo")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tree / "socket"))
    try:
        wipe_tree(tree)
    finally:
        server.close()
    assert not tree.exists()


def test_wipe_handles_trees_deeper_than_the_recursion_limit(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(3000):  # relative to a descriptor: the path would be longer than PATH_MAX
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "wb") as handle:
        handle.write(b"deep secret")
    os.close(fd)
    wipe_tree(tree)
    assert not tree.exists()


def test_scratch_is_private_and_wiped_on_exit(tmp_path):
    with Scratch(tmp_path) as scratch:
        assert scratch.path is not None
        assert stat.S_IMODE(scratch.path.stat().st_mode) == 0o700
        (scratch.sub("inputs") / "data").write_bytes(b"plaintext")
        path = scratch.path
    assert not path.exists()


@as_root
def test_tmpfs_is_capped_and_released_with_the_scratch(tmp_path):
    with Scratch(tmp_path) as scratch:
        assert scratch.path is not None
        folder = scratch.mount_tmpfs(
            scratch.path / "outputs", size_bytes=64 * 1024, uid=65534, gid=65534
        )
        assert str(folder) in _mount_points()
        info = folder.stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (65534, 65534, 0o700)
        with pytest.raises(OSError) as caught:
            (folder / "big").write_bytes(b"x" * 200_000)
        assert caught.value.errno == errno.ENOSPC
    assert str(folder) not in _mount_points() and not folder.exists()


@as_root
def test_release_wipes_and_unmounts_at_once(tmp_path):
    with Scratch(tmp_path) as scratch:
        assert scratch.path is not None
        folder = scratch.mount_tmpfs(scratch.path / ".logs", size_bytes=1024 * 1024)
        (folder / "stdout").write_bytes(b"engine output")
        scratch.release(folder)
        assert str(folder) not in _mount_points() and not folder.exists()
        with pytest.raises(ValueError):
            scratch.release(folder)


@as_root
def test_tmpfs_only_on_an_empty_folder_inside_the_scratch(tmp_path):
    with Scratch(tmp_path) as scratch:
        assert scratch.path is not None
        with pytest.raises(OSError, match="not inside"):
            scratch.mount_tmpfs(tmp_path / "elsewhere", size_bytes=4096)
        with pytest.raises(OSError, match="not inside"):
            scratch.mount_tmpfs(scratch.path, size_bytes=4096)
        (scratch.sub("full") / "file").write_text("x")
        with pytest.raises(OSError, match="not empty"):
            scratch.mount_tmpfs(scratch.path / "full", size_bytes=4096)
        (scratch.path / "link").symlink_to(tmp_path)
        with pytest.raises(OSError, match="not inside"):
            scratch.mount_tmpfs(scratch.path / "link", size_bytes=4096)
