"""A seccomp filter for sessions: no new user namespaces, no kernel keyrings.

Debian lets unprivileged processes create user namespaces, in which they are "root" and reach
kernel code that is otherwise for root only (a source of privilege escalations). The kernel's
keyrings are kept per account, not per session: a user's two project sessions would share them,
a place to pass data from one project to the other. A session needs neither. Bubblewrap
installs this filter (as a classic BPF program) on the session's first process, and every
process inherits it:

* ``unshare`` and ``clone`` asking for ``CLONE_NEWUSER`` fail with EPERM;
* ``clone3``, whose flags live in memory a filter cannot read, fails with ENOSYS, so the C
  library falls back to ``clone``, which the filter can check;
* ``add_key``, ``request_key`` and ``keyctl`` fail with EPERM;
* x32 system calls (another numbering of the same calls on x86-64) and another architecture's
  (i386 on x86-64) fail with EPERM.

Every other call is allowed: this is a narrow denylist on top of the sandbox, not a profile.
"""

from __future__ import annotations

import errno
import platform
import struct
from dataclasses import dataclass

__all__ = ["CLONE_NEWUSER", "session_filter"]

CLONE_NEWUSER = 0x10000000


@dataclass(frozen=True)
class _Calls:
    audit_arch: int
    unshare: int
    clone: int
    clone3: int
    keyrings: tuple[int, ...]  # add_key, request_key, keyctl


_ARCHES = {
    "x86_64": _Calls(0xC000003E, 272, 56, 435, (248, 249, 250)),
    "aarch64": _Calls(0xC00000B7, 97, 220, 435, (217, 218, 219)),
}
X32_BIT = 0x40000000  # x32 calls on x86-64 have bit 30 set

# Classic BPF (linux/filter.h, linux/seccomp.h).
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (little-endian low word of arg 0)

# An instruction: (code, k, jump if true, jump if false); jumps name a label (or None: next).
_Op = tuple[int, int, str | None, str | None]


def _assemble(program: list[_Op | str]) -> bytes:
    """Classic BPF from instructions and labels (a str is a label for the next instruction)."""
    ops = [item for item in program if not isinstance(item, str)]
    labels, index = {}, 0
    for item in program:
        if isinstance(item, str):
            labels[item] = index
        else:
            index += 1

    def offset(label: str | None, at: int) -> int:
        return 0 if label is None else labels[label] - at - 1

    return b"".join(
        struct.pack("<HBBI", code, offset(jt, at), offset(jf, at), k)
        for at, (code, k, jt, jf) in enumerate(ops)
    )


def session_filter(machine: str | None = None) -> bytes:
    """The filter for this machine's architecture, as bubblewrap's ``--seccomp`` reads it."""
    calls = _ARCHES[machine or platform.machine()]
    return _assemble([
        (_LD_W_ABS, _ARCH, None, None),
        (_JEQ_K, calls.audit_arch, "native", "refuse"),
        "native",
        (_LD_W_ABS, _NR, None, None),
        (_JGE_K, X32_BIT, "refuse", None),
        (_JEQ_K, calls.clone3, "unavailable", None),
        *((_JEQ_K, nr, "refuse", None) for nr in calls.keyrings),
        (_JEQ_K, calls.unshare, "flags", None),
        (_JEQ_K, calls.clone, "flags", "allow"),
        "flags",
        (_LD_W_ABS, _ARG0, None, None),
        (_JSET_K, CLONE_NEWUSER, "refuse", "allow"),
        "allow",
        (_RET_K, _ALLOW, None, None),
        "refuse",
        (_RET_K, _ERRNO | errno.EPERM, None, None),
        "unavailable",
        (_RET_K, _ERRNO | errno.ENOSYS, None, None),
    ])  # fmt: skip
