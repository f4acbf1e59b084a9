"""The engine's seccomp filter: a classic BPF program built here, installed by ``_isolate`` in the
engine process after it dropped its privileges and set ``no_new_privs``, just before it execs the
engine.

The program, in order:

1. the audit architecture must be ``AUDIT_ARCH_X86_64``, else the process is killed (no i386 entry
   through ``int 0x80``, no other ABI);
2. a syscall number with the x32 bit (``0x40000000``) set fails with ``EPERM``;
3. every syscall in :data:`REFUSED_SYSCALLS` fails with ``EPERM``;
4. ``clone3`` fails with ``ENOSYS`` (its flags sit behind a pointer the filter cannot read; the C
   library then falls back to ``clone``), and ``clone`` with any ``CLONE_NEW*`` flag fails with
   ``EPERM``;
5. everything else is allowed.

A filter is only built for x86_64: elsewhere :func:`build_filter` raises
``SandboxSeccompUnavailable``.
"""

from __future__ import annotations

import platform
import struct

from enclava.protocol.engine.errors import SandboxSeccompUnavailable

__all__ = ["CLONE_NAMESPACE_FLAGS", "REFUSED_SYSCALLS", "build_filter"]

#: name -> x86_64 syscall number, refused with EPERM. Keyrings, tracing and other processes' memory,
#: BPF and perf, mounts and namespaces, modules and kexec, swap, clocks, and other kernel attack
#: surface.
REFUSED_SYSCALLS: dict[str, int] = {
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "kcmp": 312,
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "move_mount": 429,
    "open_tree": 428,
    "mount_setattr": 442,
    "open_by_handle_at": 304,
    "name_to_handle_at": 303,
    "unshare": 272,
    "setns": 308,
    "kexec_load": 246,
    "kexec_file_load": 320,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "acct": 163,
    "quotactl": 179,
    "quotactl_fd": 443,
    "settimeofday": 164,
    "clock_settime": 227,
    "clock_adjtime": 305,
    "adjtimex": 159,
    "sethostname": 170,
    "setdomainname": 171,
    "syslog": 103,
    "vhangup": 153,
    "iopl": 172,
    "ioperm": 173,
    "modify_ldt": 154,
    "lookup_dcookie": 212,
    "fanotify_init": 300,
    "uselib": 134,
    "_sysctl": 156,
    "nfsservctl": 180,
}
_CLONE, _CLONE3 = 56, 435
#: CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID
#: | CLONE_NEWNET
CLONE_NAMESPACE_FLAGS = (
    0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
# Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x05 | 0x30 | 0x00  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x05 | 0x40 | 0x00  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K
# Return actions (linux/seccomp.h).
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
_EPERM, _ENOSYS = 1, 38
# Offsets in struct seccomp_data: nr (u32), arch (u32), instruction_pointer (u64), args[6] (u64).
_OFF_NR, _OFF_ARCH, _OFF_ARG0_LOW = 0, 4, 16


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def build_filter(machine: str | None = None) -> bytes:
    """The filter as a packed ``struct sock_filter[]`` (8 bytes per instruction), for ``machine``
    (default: this one). Raises ``SandboxSeccompUnavailable`` on anything but x86_64: fail
    closed."""
    machine = machine if machine is not None else platform.machine()
    if machine not in ("x86_64", "AMD64"):
        raise SandboxSeccompUnavailable(
            f"no seccomp filter for the {machine or 'unknown'} architecture"
        )
    eperm, enosys = RET_ERRNO | _EPERM, RET_ERRNO | _ENOSYS
    program = [
        _insn(_LD_W_ABS, 0, 0, _OFF_ARCH),
        _insn(_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _insn(_RET_K, 0, 0, RET_KILL_PROCESS),
        _insn(_LD_W_ABS, 0, 0, _OFF_NR),
        _insn(_JGE_K, 0, 1, X32_SYSCALL_BIT),
        _insn(_RET_K, 0, 0, eperm),
    ]
    for number in sorted(set(REFUSED_SYSCALLS.values())):
        program += [_insn(_JEQ_K, 0, 1, number), _insn(_RET_K, 0, 0, eperm)]
    program += [
        _insn(_JEQ_K, 0, 1, _CLONE3),
        _insn(_RET_K, 0, 0, enosys),
        _insn(_JEQ_K, 0, 3, _CLONE),
        _insn(_LD_W_ABS, 0, 0, _OFF_ARG0_LOW),
        _insn(_JSET_K, 0, 1, CLONE_NAMESPACE_FLAGS),
        _insn(_RET_K, 0, 0, eperm),
        _insn(_RET_K, 0, 0, RET_ALLOW),
    ]
    if len(program) > 4096:  # BPF_MAXINSNS
        raise SandboxSeccompUnavailable("the seccomp filter is too long")
    return b"".join(program)
