"""Defence in depth for the worker processes that run strategy code.

The allow-list check (`tvdesk.pine.safety`) is what keeps a script from reaching the machine.
This module assumes it might one day miss something and takes away what a worker does not
need, once, when the worker starts and before it runs any script:

- a scrubbed environment: only locale, time zone, search path and PyneCore's/tvdesk's own
  non-secret settings survive; HOME and TMPDIR point at the worker's scratch folder, so no
  keyring, D-Bus, SSH agent or credential variable is there to find;
- limits: address space (`RLIMIT_AS`) per worker, CPU seconds per trial (`TrialClock`);
- on Linux, no new privileges and a Landlock ruleset: files may be written only in the scratch
  folder and in /dev/shm (the shared memory request.security's child processes talk
  through); files may be read only in the Python installation, the system's library and data
  folders, the transpile cache and the market data files the pool was given; TCP connect and
  bind are refused (Landlock ABI 4+), abstract Unix sockets and signals outside the sandbox
  too (ABI 6+), and the kernel refuses access to other processes' memory and environment.

Landlock needs Linux 5.13+ and is skipped (with the reason recorded) where the kernel lacks it;
macOS and Windows get the environment scrub and, where the OS has them, the resource limits.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

resource: ModuleType | None
try:
    import resource
except ImportError:  # Windows: no resource limits from the OS, only the pool's watchdog
    resource = None

# Environment variables a worker keeps: exact names, then prefixes.
_KEEP_ENV = {"PATH", "LANG", "LANGUAGE", "TZ", "TZDIR", "PYTHONHASHSEED", "PYTHONUTF8",
             "SYSTEMROOT", "WINDIR", "COMSPEC", "TVDESK_HOME", "OPENBLAS_CORETYPE",
             "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}
_KEEP_PREFIXES = ("LC_", "PYNE_")


@dataclass(frozen=True, slots=True)
class WorkerLimits:
    """What one backtest worker may use. The defaults fit any real strategy on years of data.

    trial_cpu_seconds: CPU time one backtest may take before it is stopped.
    memory_mb: address space of one worker process (PyneCore itself takes about 400 MB).
    confine: apply the Landlock ruleset and no-new-privileges where the kernel offers them.
    """

    trial_cpu_seconds: float = 600.0
    memory_mb: int = 4096
    confine: bool = True


class TrialLimitExceeded(BaseException):
    """Raised inside the worker when a trial runs out of CPU time.

    A BaseException, like KeyboardInterrupt, so that no `except Exception` in the engine
    swallows it and the trial really stops.
    """


def scrub_environment(scratch: Path, temp: Path | None = None) -> None:
    """Keep only harmless variables; HOME becomes the scratch folder, TMPDIR `temp` (default:
    the scratch folder too)."""
    import tempfile

    for key in list(os.environ):
        if key not in _KEEP_ENV and not key.startswith(_KEEP_PREFIXES):
            del os.environ[key]
    for key in ("HOME", "USERPROFILE"):
        os.environ[key] = str(scratch)
    for key in ("TMPDIR", "TMP", "TEMP"):
        os.environ[key] = str(temp or scratch)
    tempfile.tempdir = None  # forget a temporary folder chosen before the scrub
    # multiprocessing keeps its own temporary folder (for Unix socket addresses) per process,
    # and a worker forked from the pool's forkserver inherits the forkserver's, outside the
    # folders the worker may write: request.security's forkserver then failed to bind its
    # socket now and then. Forget it too, so it is made again under `temp`.
    import multiprocessing.process

    multiprocessing.process.current_process()._config.pop("tempdir", None)  # type: ignore[attr-defined]


def limit_memory(megabytes: int) -> bool:
    """Cap the worker's address space; an allocation past it raises MemoryError."""
    if resource is None or not hasattr(resource, "RLIMIT_AS"):
        return False
    limit = megabytes * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        return False
    return True


def _cpu_used() -> float:
    assert resource is not None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class TrialClock:
    """CPU seconds per trial, enforced by the kernel (RLIMIT_CPU sends SIGXCPU).

    `arm` sets the soft limit to the CPU already used plus the trial's budget; the signal
    handler raises TrialLimitExceeded into the running script, which unwinds the backtest and
    leaves the worker ready for the next trial. `disarm` lifts the soft limit again. A script
    stuck inside one C call for longer is stopped by the pool's wall-clock watchdog instead.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.available = resource is not None and hasattr(signal, "SIGXCPU")
        if self.available:
            signal.signal(signal.SIGXCPU, self._expired)

    def _expired(self, _signum: int, _frame: object) -> None:
        raise TrialLimitExceeded(f"the trial exceeded its CPU limit of {self.seconds:g} s")

    def arm(self) -> None:
        if self.available and resource is not None:
            _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
            soft = int(_cpu_used() + self.seconds) + 1
            if hard != resource.RLIM_INFINITY:
                soft = min(soft, hard)
            resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))

    def disarm(self) -> None:
        if self.available and resource is not None:
            _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
            resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


# --------------------------------------------------------------------------------------------
# Linux: no_new_privs and Landlock

_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every Linux architecture
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_PR_SET_NO_NEW_PRIVS = 38
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_REMOVE_DIR, _FS_REMOVE_FILE, _FS_MAKE_CHAR, _FS_MAKE_DIR = 16, 32, 64, 128
_FS_MAKE_REG, _FS_MAKE_SOCK, _FS_MAKE_FIFO, _FS_MAKE_BLOCK, _FS_MAKE_SYM = (
    256, 512, 1024, 2048, 4096)
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1, 2

_READ = _FS_READ_FILE | _FS_READ_DIR
_WRITE = (_FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE_CHAR | _FS_MAKE_DIR
          | _FS_MAKE_REG | _FS_MAKE_SOCK | _FS_MAKE_FIFO | _FS_MAKE_BLOCK | _FS_MAKE_SYM)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where there is none (not Linux, too old, off)."""
    if not sys.platform.startswith("linux"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                           ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def read_roots() -> list[Path]:
    """Where a worker reads from: the Python installation, the system, tvdesk and PyneCore."""
    import pynecore

    import tvdesk

    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
             Path(tvdesk.__file__).parent, Path(pynecore.__file__).parent,
             # A frozen app's executable holds its code archive: a module first imported
             # after confinement is read from it, and request.security's forkserver runs it.
             Path(sys.executable)}
    roots.update(Path(entry) for entry in sys.path if entry)
    roots.update(Path(p) for p in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc",
                                   "/opt", "/proc", "/sys", "/dev", "/System", "/Library"))
    return sorted(root for root in roots if root.exists())


def confine(scratch: Path, readable: Iterable[Path], read_dirs: Iterable[Path] = (),
            write_dirs: Iterable[Path] = ()) -> str:
    """Apply no_new_privs and the Landlock ruleset; say what was applied, or why not.

    readable: single files the worker may read (market data); read_dirs: folders it may read
    (the transpile cache), on top of `read_roots()`; write_dirs: folders it may write besides
    the scratch folder (its temporary folder).
    """
    abi = landlock_abi()
    if abi < 1:
        return "not confined: this system has no Landlock (Linux 5.13+ with Landlock enabled)"
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    handled_fs = _READ | _WRITE | _FS_EXECUTE
    if abi >= 2:
        handled_fs |= _FS_REFER
    if abi >= 3:
        handled_fs |= _FS_TRUNCATE
    attr = _RulesetAttr(handled_fs, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
                        _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = libc.syscall(ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr),
                           ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return f"not confined: Landlock refused the ruleset ({os.strerror(ctypes.get_errno())})"
    try:
        write = _WRITE | _READ | _FS_TRUNCATE * (abi >= 3) | _FS_REFER * (abi >= 2)
        rules = [(root, _READ | _FS_EXECUTE) for root in read_roots()]
        rules += [(Path(path), _FS_READ_FILE) for path in readable]
        rules += [(Path(path), _READ) for path in read_dirs]
        rules += [(scratch, write), (Path("/dev/null"), _FS_READ_FILE | _FS_WRITE_FILE)]
        rules += [(Path(path), write) for path in write_dirs]
        # POSIX shared memory and named semaphores: request.security's child processes
        # exchange every bar through them (a memory-backed folder, no disk, no other file).
        rules += [(Path("/dev/shm"), write)]
        for path, access in rules:
            _add_rule(libc, ruleset, path, access & handled_fs)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"not confined: no_new_privs failed ({os.strerror(ctypes.get_errno())})"
        if libc.syscall(ctypes.c_long(_SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset),
                        ctypes.c_uint32(0)) != 0:
            return f"not confined: Landlock restrict failed ({os.strerror(ctypes.get_errno())})"
    finally:
        os.close(ruleset)
    return f"confined: Landlock ABI {abi} on {platform.system()} {platform.release()}"


def _add_rule(libc: ctypes.CDLL, ruleset: int, path: Path, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path that does not exist needs no rule
    try:
        if not path.is_dir():
            # Directory-only rights on a file are refused by the kernel.
            access &= _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
        rule = _PathBeneathAttr(access, fd)
        libc.syscall(ctypes.c_long(_SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset),
                     ctypes.c_uint32(_LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                     ctypes.c_uint32(0))
    finally:
        os.close(fd)
