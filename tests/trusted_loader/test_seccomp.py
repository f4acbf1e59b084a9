"""The engine's seccomp program, run through a small classic-BPF interpreter on made-up syscalls."""

from __future__ import annotations

import struct

import pytest

from enclava.protocol.engine.errors import SandboxSeccompUnavailable, SandboxUnavailable
from trusted_loader.sandbox.seccomp import (
    AUDIT_ARCH_X86_64,
    CLONE_NAMESPACE_FLAGS,
    REFUSED_SYSCALLS,
    RET_ALLOW,
    RET_ERRNO,
    RET_KILL_PROCESS,
    X32_SYSCALL_BIT,
    build_filter,
)

EPERM, ENOSYS = RET_ERRNO | 1, RET_ERRNO | 38
AUDIT_ARCH_I386 = 0x40000003
#: What issue 13 requires the filter to refuse, at the least.
REQUIRED = [
    "keyctl",
    "add_key",
    "request_key",
    "ptrace",
    "bpf",
    "mount",
    "umount2",
    "unshare",
    "setns",
    "perf_event_open",
    "kexec_load",
    "init_module",
    "finit_module",
    "process_vm_readv",
    "process_vm_writev",
    "userfaultfd",
    "pivot_root",
    "chroot",
    "swapon",
]


def decode(program: bytes) -> list[tuple[int, int, int, int]]:
    assert len(program) % 8 == 0
    return [struct.unpack("=HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]


def evaluate(
    program: bytes, nr: int, *, arch: int = AUDIT_ARCH_X86_64, args: tuple[int, ...] = (0,) * 6
) -> int:
    """Run ``program`` on a ``struct seccomp_data`` the way the kernel does; the returned action."""
    data = struct.pack("=IIQ6Q", nr, arch, 0, *args)
    insns, pc, acc = decode(program), 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld [k]
            acc, pc = struct.unpack_from("=I", data, k)[0], pc + 1
        elif code in (0x15, 0x35, 0x45):  # jeq, jge, jset
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


@pytest.fixture(scope="module")
def program() -> bytes:
    return build_filter("x86_64")


def test_required_syscalls_are_all_in_the_refused_list():
    assert set(REQUIRED) <= set(REFUSED_SYSCALLS)


@pytest.mark.parametrize("name", sorted(REFUSED_SYSCALLS))
def test_refused_syscall_returns_eperm(program, name):
    assert evaluate(program, REFUSED_SYSCALLS[name]) == EPERM


@pytest.mark.parametrize(
    "nr", [0, 1, 9, 39, 59, 202, 231, 257, 318]
)  # read write mmap getpid execve futex ...
def test_ordinary_syscalls_are_allowed(program, nr):
    assert evaluate(program, nr) == RET_ALLOW


def test_plain_fork_and_thread_clones_are_allowed(program):
    sigchld, thread_flags = (
        17,
        0x003D0F00,
    )  # CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT/CHILD_*TID
    assert evaluate(program, 56, args=(sigchld, 0, 0, 0, 0, 0)) == RET_ALLOW
    assert evaluate(program, 56, args=(thread_flags, 0, 0, 0, 0, 0)) == RET_ALLOW


@pytest.mark.parametrize(
    "flag", [1 << bit for bit in range(32) if CLONE_NAMESPACE_FLAGS & (1 << bit)]
)
def test_clone_into_a_new_namespace_is_refused(program, flag):
    assert evaluate(program, 56, args=(flag | 17, 0, 0, 0, 0, 0)) == EPERM


def test_clone3_reports_enosys_so_libc_falls_back_to_clone(program):
    assert evaluate(program, 435) == ENOSYS


def test_other_architecture_is_killed(program):
    assert evaluate(program, 1, arch=AUDIT_ARCH_I386) == RET_KILL_PROCESS
    assert evaluate(program, 250, arch=AUDIT_ARCH_I386) == RET_KILL_PROCESS


def test_x32_abi_is_refused(program):
    assert evaluate(program, X32_SYSCALL_BIT | 1) == EPERM
    assert evaluate(program, X32_SYSCALL_BIT | 250) == EPERM


def test_every_jump_lands_inside_the_program(program):
    insns = decode(program)
    for index, (code, jt, jf, _) in enumerate(insns):
        if code in (0x15, 0x35, 0x45):
            assert index + 1 + max(jt, jf) < len(insns)
    assert insns[-1] == (0x06, 0, 0, RET_ALLOW)


@pytest.mark.parametrize("machine", ["aarch64", "i686", "riscv64", ""])
def test_other_machines_fail_closed(machine):
    with pytest.raises(SandboxSeccompUnavailable) as caught:
        build_filter(machine)
    assert isinstance(caught.value, SandboxUnavailable)
    assert caught.value.code == "sandbox_seccomp_unavailable" and "x86_64" in caught.value.hint
