"""The file-system sandbox of a session, attacked from inside a real kernel as a curious
researcher would: walk the whole tree and read what can be read, look for the raw data and the
hub's secrets by path, leave files for another project's session or another user's, and print
the session's handle hoping for its token."""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import pytest

from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.hub.sandbox import ETC_ALLOWLIST, GENERATED_ETC

REPO = Path(__file__).resolve().parents[2]

# Runs in a kernel: every path the session can read (files) or enter and list (directories),
# and every file or directory it can write, with device and inode (what it really is), skipping
# the kernel's own pseudo file systems and device nodes. Written to the session's home (too big
# for the kernel's output), which the test reads from the host.
CENSUS = r"""
import json, os, stat
readable, writable = [], []
for top, dirs, files in os.walk("/", onerror=lambda e: None):
    if top in ("/proc", "/sys", "/dev"):
        dirs[:] = []
        if top != "/dev":
            continue
        dirs[:] = ["shm"]
    for name in dirs + files:
        path = os.path.join(top, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            continue
        if os.access(path, os.R_OK):
            readable.append(path)
        if os.access(path, os.W_OK):
            writable.append([path, st.st_dev, st.st_ino, stat.S_ISDIR(st.st_mode)])
found = {"readable": readable, "writable": writable, "env": dict(os.environ)}
with open(os.path.join(os.environ["HOME"], "census.json"), "w") as out:
    json.dump(found, out)
print(out.name)
"""


def census(hub: Hub, user: str, project: str) -> dict[str, object]:
    written = Path(hub.execute(user, project, CENSUS, timeout=300).strip())
    found: dict[str, object] = json.loads(written.read_text())
    written.unlink()
    return found


def outside(paths: list[str], allowed: list[str]) -> list[str]:
    return [
        p for p in paths if not any(p == a or p.startswith(a.rstrip("/") + "/") for a in allowed)
    ]


@pytest.fixture(scope="module")
def second_project(hub_world: World) -> str:
    hub_world.approved("second-study", members=["bob"])  # alice leads both
    return "second-study"


def test_a_census_from_inside_finds_only_the_allowlist(hub: Hub, hub_world: World) -> None:
    assert hub.start_server("alice", "brca-study")[0] == 201
    found = census(hub, "alice", "brca-study")
    env = found["env"]
    assert isinstance(env, dict)
    venv = str(Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")).resolve())
    allowed = [
        # the system
        "/usr", "/tmp", "/var/tmp", "/dev", "/proc",  # /proc: its own processes (below)
        *(f"/etc/{name}" for name in (*ETC_ALLOWLIST, *GENERATED_ETC)),
        # the Python environment and what it reads: the package, the policies
        venv, str(REPO / "wgs_tre"), env["WGS_TRE_POLICY_DIR"],
        # the project: workspace, this (user, project)'s home, the dispensal, the kernel specs
        env["WGS_TRE_WORKSPACE"], env["HOME"], env["WGS_TRE_DISPENSAL"], env["JUPYTER_PATH"],
    ]  # fmt: skip
    readable = found["readable"]
    assert isinstance(readable, list) and len(readable) > 1000  # the walk did see the system
    # Directories that only lead to bind mounts are listed too: they hold nothing but those.
    leading = {str(p) for a in allowed for p in Path(a).parents}
    assert outside([p for p in readable if p not in leading], allowed) == []
    # What the curious look for first, named: none of it exists inside.
    secrets = [hub_world.store.url.database, hub_world.tmp / "datasets",
               hub_world.tmp / "cohort.vcf.gz", hub.state / "jupyterhub.sqlite",
               hub.state / "cookie_secret", "/etc/shadow", "/etc/munge", "/root", "/home",
               REPO / "var", REPO / "tests"]  # fmt: skip
    names = [str(s) for s in secrets]
    probe = f"import os, json; print(json.dumps([os.path.exists(p) for p in {names!r}]))"
    assert json.loads(hub.execute("alice", "brca-study", probe)) == [False] * len(secrets)
    passwd = hub.execute("alice", "brca-study", "print(open('/etc/passwd').read())")
    assert {line.split(":")[0] for line in passwd.split()} == {"root", "nobody", "tre-alice"}


def test_the_hub_keeps_its_secrets_to_itself_on_the_host(hub: Hub) -> None:
    for path in (hub.state / "jupyterhub.sqlite", hub.state / "cookie_secret"):
        assert path.stat().st_mode & 0o077 == 0, path
    assert hub.state.stat().st_mode & 0o077 == 0


def test_two_projects_of_one_user_share_nothing_writable(hub: Hub, second_project: str) -> None:
    assert hub.start_server("alice", "brca-study")[0] == 201
    assert hub.start_server("alice", second_project)[0] == 201
    first = census(hub, "alice", "brca-study")["writable"]
    second = census(hub, "alice", second_project)["writable"]
    assert isinstance(first, list) and isinstance(second, list)
    for found in (first, second):  # every writable file lies in a writable directory
        directories = [p for p, _, _, is_dir in found if is_dir]
        assert outside([p for p, _, _, is_dir in found if not is_dir], directories) == []
    # Directories are compared by what they are (device, inode), not by name: both have a /tmp.
    # (Files come and go between the two walks, and the file system reuses their inodes.)
    shared = {(d, i) for _, d, i, is_dir in first if is_dir} & {
        (d, i) for _, d, i, is_dir in second if is_dir
    }
    assert not shared, [p for p, d, i, _ in first if (d, i) in shared]
    leave = (
        "import os\n"
        "for d in (os.environ['HOME'], '/tmp', '/var/tmp', '/dev/shm'):\n"
        "    open(os.path.join(d, 'left-by-brca'), 'w').write('x')\n"
    )
    hub.execute("alice", "brca-study", leave)
    look = (
        "import os\n"
        "print([os.path.exists(os.path.join(d, 'left-by-brca'))\n"
        "       for d in (os.environ['HOME'], '/tmp', '/var/tmp', '/dev/shm')])"
    )
    assert hub.execute("alice", second_project, look).strip() == "[False, False, False, False]"
    assert hub.execute("alice", "brca-study", look).strip() == "[True, True, True, True]"
    # another user's session of the same project does not see them either
    assert hub.start_server("bob", "brca-study")[0] == 201
    assert hub.execute("bob", "brca-study", look).strip() == "[False, False, False, False]"


def test_a_session_sees_only_its_own_processes(hub: Hub) -> None:
    assert hub.start_server("alice", "brca-study")[0] == 201
    assert hub.start_server("bob", "brca-study")[0] == 201
    listing = (
        "import os\n"
        "print(sorted({open(f'/proc/{p}/cmdline','rb').read().split(b'\\0')[0].decode()\n"
        "              for p in os.listdir('/proc') if p.isdigit()}))"
    )
    seen = hub.execute("alice", "brca-study", listing)
    assert "jupyterhub" not in seen.replace("jupyterhub-singleuser", "")  # not the hub
    assert "configurable-http-proxy" not in seen and "postgres" not in seen
    owners = hub.execute(
        "alice", "brca-study",
        "import os; print(sorted({os.stat(f'/proc/{p}').st_uid for p in os.listdir('/proc')\n"
        "                         if p.isdigit()}))",
    )  # fmt: skip
    # bubblewrap's own first process (root) and the session's account: bob's are not there
    assert json.loads(owners) == [0, pwd.getpwnam("tre-alice").pw_uid]


def test_the_session_handle_does_not_show_its_token(hub: Hub) -> None:
    assert hub.start_server("alice", "brca-study")[0] == 201
    out = hub.execute("alice", "brca-study", (
        "import os\nfrom wgs_tre import open_project\n"
        "project = open_project()\n"
        "token = os.environ['JUPYTERHUB_API_TOKEN']\n"
        "print(token in repr(project) + str(project) + repr(project.source))\n"
    ))  # fmt: skip
    assert out.strip() == "False"


def test_a_new_session_starts_with_the_compiled_kernels(hub: Hub, second_project: str) -> None:
    """The kernels compiled at install reach every new (user, project) home: the first analysis
    in a session loads them from its cache and compiles nothing."""
    assert hub.start_server("bob", second_project)[0] == 201
    out = hub.execute("bob", second_project, (
        "from wgs_tre.genomics.warmup import compile_kernels\n"
        "from wgs_tre.genomics.kernels import pca, qc, regression\n"
        "compile_kernels()\n"
        "kernels = [qc._variant_counts, qc._sample_counts, qc._hwe, regression._linear,\n"
        "           regression._logistic, pca._standardise, pca._ld_thin]\n"
        "print(sum(len(k.stats.cache_misses) for k in kernels),\n"
        "      sum(len(k.stats.cache_hits) for k in kernels))\n"
    ), timeout=300)  # fmt: skip
    compiled, loaded = map(int, out.split())
    assert (compiled, loaded >= 7) == (0, True)


def test_a_session_cannot_make_user_namespaces_or_use_keyrings(hub: Hub) -> None:
    """In a user namespace a process is root and reaches kernel code meant for root; the
    kernel's keyrings are kept per account, so a user's two projects would share them. Sessions
    get neither (seccomp), whether asked for directly or through a tool."""
    assert hub.start_server("alice", "brca-study")[0] == 201
    out = hub.execute("alice", "brca-study", (
        "import ctypes, platform, subprocess\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "def errno_of(result): return ctypes.get_errno() if result == -1 else 'allowed'\n"
        "add_key, keyctl = {'x86_64': (248, 250), 'aarch64': (217, 219)}[platform.machine()]\n"
        "print(errno_of(libc.unshare(0x10000000)))\n"
        "print(subprocess.run(['unshare', '--user', '--map-root-user', 'true'],\n"
        "                     capture_output=True).returncode)\n"
        "print(errno_of(libc.syscall(add_key, b'user', b'left', b'x', 1, -4)))  # user keyring\n"
        "print(errno_of(libc.syscall(keyctl, 0, -4, 0)))  # KEYCTL_GET_KEYRING_ID\n"
    ))  # fmt: skip
    assert out.split() == ["1", "1", "1", "1"]  # EPERM everywhere
