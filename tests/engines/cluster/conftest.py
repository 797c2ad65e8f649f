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


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and its key for 127.0.0.1, signing itself (the CA of a test cluster)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tvdesk test cluster")])
    now = datetime.datetime.now(datetime.UTC)

    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cluster-cert.pem", folder / "cluster-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def die_with_parent() -> None:
    """preexec_fn: the process is killed when pytest dies (a test killed by its timeout), so
    no scheduler or worker outlives the test run."""
    import ctypes

    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Cluster:
    def __init__(self, folder: Path, *, tls: tuple[Path, Path] | None = None) -> None:
        self.folder = folder
        self.tls = tls
        cert, key = tls if tls else (None, None)
        self.tls_flags = ["--tls-ca-file", str(cert), "--tls-cert", str(cert),
                          "--tls-key", str(key)] if tls else []
        self.scheduler_file = folder / "scheduler.json"
        self.env = {**os.environ, "TVDESK_HOME": str(folder / "home")}
        self.logs: list[IO[str]] = []
        self.scheduler = subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(self.scheduler_file),
             *(["--protocol", "tls", *self.tls_flags] if tls else [])],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
            stderr=self.log_file("scheduler.log"), preexec_fn=die_with_parent)
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
                   wait: bool = True, nanny: bool = False) -> subprocess.Popen:
        """One `dask worker` process; without a nanny by default, so a kill is final, as a
        lost machine is (`nanny=True`: the plain `dask worker ADDRESS` a user starts)."""
        index = len(self.workers)
        command = [DASK, "worker", self.address, "--nthreads", str(threads),
                   *([] if nanny else ["--no-nanny"]),
                   "--no-dashboard", "--name", f"w{index}",
                   "--local-directory", str(self.folder / f"worker{index}"), *self.tls_flags]
        if preload is not None:
            command += ["--preload", str(preload)]
        worker = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                  stderr=self.log_file(f"worker{index}.log"),
                                  preexec_fn=die_with_parent)
        self.workers.append(worker)
        if wait:
            self.wait_for_workers(sum(1 for w in self.workers if w.poll() is None))
        return worker

    def wait_for_workers(self, count: int, timeout: float = 90) -> None:
        security = "None"
        if self.tls:
            cert, key = self.tls
            security = (f"Security(tls_ca_file={str(cert)!r}, tls_client_cert={str(cert)!r}, "
                        f"tls_client_key={str(key)!r}, require_encryption=True)")
        code = ("import sys; from distributed import Client; "
                "from distributed.security import Security; "
                f"c = Client({self.address!r}, timeout=30, security={security}); "
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
