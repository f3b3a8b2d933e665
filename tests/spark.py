"""A throw-away Spark standalone cluster for tests: one master and one worker on 127.0.0.1,
from the Spark that pyspark (Hail's dependency) ships. This is what a site's ``spark://`` master
looks like to Hail; the JVMs log and work in a temp dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.daemons import free_port, stop_all


@dataclass
class SparkStandalone:
    root: Path
    port: int
    ui_port: int
    processes: list[subprocess.Popen[bytes]]

    @property
    def master(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def status(self) -> dict[str, object]:
        """The master's own account of workers and applications (its web UI's JSON)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
            answer: dict[str, object] = json.loads(r.read())
        return answer

    @classmethod
    def start(cls, cores: int = 2, memory: str = "2g") -> SparkStandalone:
        import pyspark

        home = Path(pyspark.__file__).parent
        root = Path(tempfile.mkdtemp(prefix="wgs-tre-spark-"))
        env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
               "SPARK_LOG_DIR": str(root), "SPARK_WORKER_DIR": str(root / "work")}  # fmt: skip
        cluster = cls(root, free_port(), free_port(), [])
        spark_class = str(home / "bin" / "spark-class")
        cluster._spawn(env, "master", spark_class, "org.apache.spark.deploy.master.Master",
                       "--host", "127.0.0.1", "--port", str(cluster.port),
                       "--webui-port", str(cluster.ui_port))  # fmt: skip
        cluster._wait(lambda: True, "the Spark master")
        cluster._spawn(env, "worker", spark_class, "org.apache.spark.deploy.worker.Worker",
                       cluster.master, "--host", "127.0.0.1", "--cores", str(cores),
                       "--memory", memory, "--webui-port", "0",
                       "--work-dir", str(root / "work"))  # fmt: skip
        cluster._wait(lambda: cluster.status().get("aliveworkers") == 1, "the Spark worker")
        return cluster

    def _spawn(self, env: dict[str, str], name: str, *args: str) -> None:
        log = open(self.root / f"{name}.out", "wb")  # noqa: SIM115 - kept open for the JVM
        self.processes.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                               env=env))  # fmt: skip

    def _wait(self, ready: object, what: str, timeout: float = 90) -> None:
        assert callable(ready)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if ready() and self.status():
                    return
            except OSError:
                pass
            time.sleep(0.5)
        logs = "\n".join(p.read_text(errors="replace")[-1500:] for p in self.root.glob("*.out"))
        raise RuntimeError(f"{what} did not start:\n{logs}")

    def stop(self) -> None:
        stop_all(self.processes)
        shutil.rmtree(self.root, ignore_errors=True)
