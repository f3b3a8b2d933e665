"""A seccomp filter for sessions: no new user namespaces.

Debian lets unprivileged processes create user namespaces, in which they are "root" and reach
kernel code that is otherwise for root only (a source of privilege escalations). A session has
no use for them: its sandbox is made before it starts. Bubblewrap installs this filter (as a
classic BPF program) on the session's first process, and every process inherits it:

* ``unshare`` and ``clone`` asking for ``CLONE_NEWUSER`` fail with EPERM;
* ``clone3``, whose flags live in memory a filter cannot read, fails with ENOSYS, so the C
  library falls back to ``clone``, which the filter can check;
* x32 system calls (another numbering of the same calls on x86-64) fail with EPERM.

Every other call is allowed: this is a narrow denylist on top of the sandbox, not a profile.
"""

from __future__ import annotations

import errno
import platform
import struct

__all__ = ["CLONE_NEWUSER", "no_user_namespaces"]

CLONE_NEWUSER = 0x10000000
# (audit arch, unshare, clone, clone3) per machine; x32 calls have bit 30 set on x86-64.
_ARCHES = {
    "x86_64": (0xC000003E, 272, 56, 435),
    "aarch64": (0xC00000B7, 97, 220, 435),
}
X32_BIT = 0x40000000

# Classic BPF (linux/filter.h, linux/seccomp.h).
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (little-endian low word of arg 0)


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def no_user_namespaces(machine: str | None = None) -> bytes:
    """The filter for this machine's architecture, as bubblewrap's ``--seccomp`` reads it."""
    arch, unshare, clone, clone3 = _ARCHES[machine or platform.machine()]
    eperm, enosys = _ERRNO | errno.EPERM, _ERRNO | errno.ENOSYS
    # Jumps count the instructions they skip; the comments number them.
    program = [
        _op(_LD_W_ABS, _ARCH),  # 0
        _op(_JEQ_K, arch, jt=1),  # 1: another architecture (i386 calls on x86-64) ...
        _op(_RET_K, eperm),  # 2: ... is refused
        _op(_LD_W_ABS, _NR),  # 3
        _op(_JGE_K, X32_BIT, jt=6),  # 4: x32 -> 11
        _op(_JEQ_K, clone3, jt=6),  # 5: clone3 -> 12
        _op(_JEQ_K, unshare, jt=1),  # 6: unshare -> 8
        _op(_JEQ_K, clone, jf=2),  # 7: clone -> 8, anything else -> 10
        _op(_LD_W_ABS, _ARG0),  # 8: the flags
        _op(_JSET_K, CLONE_NEWUSER, jt=1),  # 9: a new user namespace -> 11
        _op(_RET_K, _ALLOW),  # 10
        _op(_RET_K, eperm),  # 11
        _op(_RET_K, enosys),  # 12
    ]
    return b"".join(program)
