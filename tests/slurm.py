"""A throw-away single-node Slurm for tests: Debian's ``slurm-wlm`` and ``munge``.

Everything lives in a temp dir: a generated munge key and a private ``munged`` socket, a
``slurm.conf`` on free ports, state and spool dirs. ``SLURM_CONF`` points the client commands
(``sbatch``, ``squeue``: what dask-jobqueue runs) at it. The node is this machine with its real
CPUs and memory, in one default partition.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.daemons import free_port, mount_cgroups, stop_all, unmount

PARTITION = "tre"


def _node_line() -> str:
    """``NodeName=<host> CPUs=.. RealMemory=..`` as slurmd itself detects them."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    line = out.splitlines()[0]
    # An explicit loopback address: the host name need not resolve (minimal roots lack /etc/hosts)
    return line + " NodeAddr=127.0.0.1 State=UNKNOWN"


@dataclass
class SlurmCluster:
    root: Path
    processes: list[subprocess.Popen[bytes]]
    cgroup_mounts: list[Path] = field(default_factory=list)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *args: str) -> str:
        done = subprocess.run(args, capture_output=True, text=True, env=self.env(), check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    @classmethod
    def start(cls) -> SlurmCluster:
        for tool in ("munged", "slurmctld", "slurmd", "sbatch"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is not installed (apt-get install slurm-wlm munge)")
        root = Path(tempfile.mkdtemp(prefix="wgs-tre-slurm-"))
        for sub in ("state", "spool", "munge"):
            (root / sub).mkdir()
        key = root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        socket_path = root / "munge" / "munge.socket"
        cluster = cls(root, [], mount_cgroups())  # slurmd will not start without them
        try:
            cluster._spawn(
                "munged", "--foreground", "--force", f"--key-file={key}", f"--socket={socket_path}",
                f"--pid-file={root / 'munge' / 'munged.pid'}", f"--log-file={root / 'munge.log'}",
                f"--seed-file={root / 'munge' / 'seed'}",
            )  # fmt: skip
            _wait_for(socket_path.exists, "munged", root / "munge.log")
            cluster.conf.write_text(_slurm_conf(root, socket_path))
            cluster._spawn("slurmctld", "-D", "-f", str(cluster.conf))
            cluster._spawn("slurmd", "-D", "-f", str(cluster.conf))
            _wait_for(
                cluster._node_is_idle, "the Slurm node", root / "slurmctld.log", root / "slurmd.log"
            )
        except BaseException:
            cluster.stop()  # no daemons or mounts left behind by a failed start
            raise
        return cluster

    def _spawn(self, *args: str) -> None:
        log = open(self.root / f"{Path(args[0]).name}.out", "wb")  # noqa: SIM115 - kept open
        self.processes.append(
            subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=self.env())
        )

    def _node_is_idle(self) -> bool:
        try:
            state = self.run("sinfo", "--noheader", "--format=%t", f"--partition={PARTITION}")
        except RuntimeError:
            return False
        return state.strip() in ("idle", "mix", "alloc")

    def jobs(self) -> list[dict[str, str]]:
        """Jobs Slurm still knows about (running, pending or recently finished)."""
        out = self.run("squeue", "--noheader", "--states=all", "--format=%i|%j|%a|%T")
        return [
            dict(zip(("id", "name", "account", "state"), line.split("|"), strict=True))
            for line in out.splitlines()
        ]

    def stop(self) -> None:
        stop_all(self.processes)
        unmount(self.cgroup_mounts)
        shutil.rmtree(self.root, ignore_errors=True)


def _wait_for(ready: object, what: str, *logs: Path, timeout: float = 30) -> None:
    assert callable(ready)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    text = "\n".join(
        f"{log.name}: " + (log.read_text(errors="replace")[-1500:] if log.exists() else "(none)")
        for log in logs
    )
    raise RuntimeError(f"{what} did not start:\n{text}")


def _slurm_conf(root: Path, munge_socket: Path) -> str:
    host = socket.gethostname()
    return f"""\
ClusterName=wgs-tre-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={root / "state"}
SlurmdSpoolDir={root / "spool"}
SlurmctldPidFile={root / "slurmctld.pid"}
SlurmdPidFile={root / "slurmd.pid"}
SlurmctldLogFile={root / "slurmctld.log"}
SlurmdLogFile={root / "slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
{_node_line()}
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
