"""A real Dask cluster on 127.0.0.1: a `dask scheduler` process and `dask worker` processes,
started and killed as a user (or a crash) would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

ROOT = Path(__file__).resolve().parents[3]
DASK = str(Path(sys.executable).with_name("dask"))


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.scheduler_file = folder / "scheduler.json"
        self.env = {**os.environ, "TVDESK_HOME": str(folder / "home"),
                    "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
        self.logs: list[IO[str]] = []
        self.scheduler = subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(self.scheduler_file)],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
            stderr=self.log_file("scheduler.log"))
        self.workers: list[subprocess.Popen] = []
        deadline = time.monotonic() + 60
        while not self._address():
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dask scheduler did not start: "
                                   + (folder / "scheduler.log").read_text()[-2000:])
            time.sleep(0.1)
        self.address = self._address()

    def log_file(self, name: str) -> IO[str]:
        handle = open(self.folder / name, "w")  # noqa: SIM115 (closed by close())
        self.logs.append(handle)
        return handle

    def _address(self) -> str:
        try:
            return str(json.loads(self.scheduler_file.read_text())["address"])
        except (OSError, ValueError, KeyError):
            return ""

    def add_worker(self, *, threads: int = 1, preload: Path | None = None,
                   wait: bool = True) -> subprocess.Popen:
        """One `dask worker` process (no nanny: a kill is final, as a lost machine is)."""
        index = len(self.workers)
        command = [DASK, "worker", self.address, "--nthreads", str(threads), "--no-nanny",
                   "--no-dashboard", "--name", f"w{index}",
                   "--local-directory", str(self.folder / f"worker{index}")]
        if preload is not None:
            command += ["--preload", str(preload)]
        worker = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                  stderr=self.log_file(f"worker{index}.log"))
        self.workers.append(worker)
        if wait:
            self.wait_for_workers(sum(1 for w in self.workers if w.poll() is None))
        return worker

    def wait_for_workers(self, count: int, timeout: float = 90) -> None:
        code = ("import sys; from distributed import Client; "
                f"c = Client({self.address!r}, timeout=30); "
                f"c.wait_for_workers({count}, timeout={timeout}); c.close()")
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=self.env,
                       timeout=timeout + 40, capture_output=True)

    def kill(self, worker: subprocess.Popen) -> None:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)

    def close(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for handle in self.logs:
            handle.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path)
    try:
        yield running
    finally:
        running.close()
