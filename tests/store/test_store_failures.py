"""The run store on a failing disk: full, damaged, read-only. Each ends in one message that
names the file and says what to do (exit 1), never a traceback, and keeps what was stored.

The full and read-only file systems are real: a small tmpfs and a read-only bind mount, made
inside a user and mount namespace of the test's own (`unshare`), so no root is needed and
nothing outside the test sees them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tvdesk.store import RunStore
from tvdesk.store.failures import StoreError

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "pine" / "examples" / "sma_cross.pine"
DATA = ROOT / "resources" / "data" / "EURUSD_1h.csv"
PAGE = 4096


def _tvdesk(*args: str) -> str:
    """A shell command line running the CLI (for scripts run inside the namespace)."""
    return " ".join(f"'{part}'" for part in (sys.executable, "-m", "tvdesk", *args))


def _optimize(store: Path | str, *extra: str) -> list[str]:
    return ["optimize", "--script", str(SCRIPT), "--data", str(DATA), "--symbol", "FX:EURUSD",
            "--mintick", "0.00001", "--pointvalue", "1", "--store", str(store), *extra]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "TVDESK_HOME": str(home)}


def _namespace_ready(tmp_path: Path) -> str | None:
    """None when this machine lets the test mount in its own namespace, else why not."""
    if not sys.platform.startswith("linux"):
        return "mount namespaces are Linux only"
    if shutil.which("unshare") is None:
        return "util-linux's unshare is not installed"
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                           f"mount -t tmpfs -o size=64k tmpfs '{probe}'"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return f"this system does not allow a private tmpfs mount: {done.stderr.strip()}"
    return None


def _in_namespace(script: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                           script], capture_output=True, text=True, env=_env(home),
                          timeout=600)


def _results(stdout: str) -> dict[str, int]:
    """The `name=code` lines the namespace scripts print after each command."""
    found = {}
    for line in stdout.splitlines():
        name, sep, code = line.partition("=")
        if sep and code.isdigit() and name.isidentifier():
            found[name] = int(code)
    return found


def test_a_full_disk_stops_the_run_keeps_its_trials_and_resume_finishes_it(
        tmp_path: Path) -> None:
    why_not = _namespace_ready(tmp_path)
    if why_not:
        pytest.skip(why_not)
    disk = tmp_path / "disk"
    disk.mkdir()
    store = disk / "runs.db"
    script = "\n".join([
        "set -u",
        f"mount -t tmpfs -o size=6m tmpfs '{disk}' || exit 99",
        # Leave well under a megabyte: a few trials fit, twelve (and their WAL) do not.
        f"head -c 5400k /dev/zero > '{disk}/ballast'",
        _tvdesk(*_optimize(store, "--max-iterations", "12")) + " > first.out 2> first.err",
        "echo first=$?",
        _tvdesk("runs", "--store", str(store)) + " > runs.out 2>&1",
        "echo runs=$?",
        f"rm '{disk}/ballast'",  # the user frees space
        _tvdesk(*_optimize(store, "--resume", "latest")) + " > resume.out 2>&1",
        "echo resume=$?",
        f"'{sys.executable}' -c \"import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
        " print('done=' + str(c.execute(\\\"SELECT count(*) FROM trials WHERE status='done'"
        " AND segment='in_sample'\\\").fetchone()[0]))\" '" + str(store) + "'",
    ])
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                           script], capture_output=True, text=True, env=_env(tmp_path),
                          cwd=tmp_path, timeout=900)
    codes = _results(done.stdout)
    first_err = (tmp_path / "first.err").read_text()
    assert codes.get("first") == 1, done.stdout + done.stderr + first_err
    assert f"{store}: the disk is full" in first_err
    assert "everything saved before is kept" in first_err
    assert "Traceback" not in first_err and "OperationalError" not in first_err
    runs = (tmp_path / "runs.out").read_text()
    assert codes.get("runs") == 0, runs
    _run_id, status, _engine, kept, *_rest = runs.split()  # "<id> failed local <n> trials …"
    # 'failed' when the last small write still fitted, else 'interrupted': both resumable.
    assert status in ("failed", "interrupted") and 1 <= int(kept) < 12
    assert codes.get("resume") == 0, (tmp_path / "resume.out").read_text()
    assert codes.get("done") == 12


@pytest.fixture(scope="module")
def finished_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one finished 3-trial run, made by the real CLI; tests copy it."""
    home = tmp_path_factory.mktemp("made")
    store = home / "runs.db"
    made = subprocess.run([sys.executable, "-m", "tvdesk",
                           *_optimize(store, "--max-iterations", "3")],
                          capture_output=True, text=True, env=_env(home), timeout=300)
    assert made.returncode == 0, made.stderr
    assert not Path(f"{store}-wal").exists()  # folded back on close: the file is complete
    return store


def test_a_read_only_store_can_be_listed_and_reported_but_not_run(
        tmp_path: Path, finished_store: Path) -> None:
    why_not = _namespace_ready(tmp_path)
    if why_not:
        pytest.skip(why_not)
    writable, read_only = tmp_path / "w", tmp_path / "ro"
    writable.mkdir()
    read_only.mkdir()
    shutil.copy(finished_store, writable / "runs.db")
    store = read_only / "runs.db"
    script = "\n".join([
        f"mount --bind '{writable}' '{read_only}' || exit 99",
        f"mount -o remount,ro,bind '{read_only}' || exit 99",
        _tvdesk("runs", "--store", str(store)) + " > runs.out 2>&1",
        "echo runs=$?",
        _tvdesk("report", "--store", str(store), "--out", str(tmp_path / "reports"),
                "--format", "txt,json") + " > report.out 2>&1",
        "echo report=$?",
        _tvdesk(*_optimize(store, "--resume", "latest")) + " > resume.out 2>&1",
        "echo resume=$?",
    ])
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                           script], capture_output=True, text=True, env=_env(tmp_path),
                          cwd=tmp_path, timeout=600)
    codes = _results(done.stdout)
    assert codes.get("runs") == 0, (tmp_path / "runs.out").read_text() + done.stderr
    assert "finished" in (tmp_path / "runs.out").read_text()
    assert codes.get("report") == 0, (tmp_path / "report.out").read_text()
    assert len(list((tmp_path / "reports").glob("*.txt"))) == 1
    resume = (tmp_path / "resume.out").read_text()
    assert codes.get("resume") == 1, resume
    assert f"{store}: the run store cannot be written here" in resume
    assert "Traceback" not in resume


def _damage(path: Path) -> None:
    """Overwrite the middle of every page but the first (the schema stays readable)."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        for page in range(1, size // PAGE):
            handle.seek(page * PAGE + 200)
            handle.write(b"\xff" * 1500)


def test_a_damaged_store_is_reported_with_what_to_do(tmp_path: Path,
                                                      finished_store: Path) -> None:
    store = tmp_path / "runs.db"
    shutil.copy(finished_store, store)
    _damage(store)
    for command in (["report", "--store", str(store), "--out", str(tmp_path / "out")],
                    ["runs", "--store", str(store)],
                    _optimize(store, "--resume", "latest")):
        done = subprocess.run([sys.executable, "-m", "tvdesk", *command], capture_output=True,
                              text=True, env=_env(tmp_path), timeout=300)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert f"{store}: the run store is damaged" in done.stderr, done.stderr
        assert ".recover" in done.stderr
        assert "Traceback" not in done.stderr


def test_store_errors_name_the_file_and_keep_committed_rows(tmp_path: Path) -> None:
    """In process: a failed write raises StoreError and leaves earlier rows as they were."""
    path = tmp_path / "runs.db"
    with RunStore.open(path) as store:
        run_id = store.create_run(engine="local", strategy_title="t", settings={})
        with sqlite3.connect(path) as other:  # a write that fails inside SQLite
            other.execute("CREATE TRIGGER no_events BEFORE INSERT ON events "
                          "BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
        with pytest.raises(StoreError) as failed:
            store.add_event(run_id, "x", {})
        assert str(failed.value).startswith(f"{path}: ")
        assert failed.value.exit_code == 1
        assert [r.id for r in store.list_runs()] == [run_id]


@pytest.mark.parametrize("replaced", [False, True])
def test_a_store_deleted_while_in_use_is_written_back(tmp_path: Path, replaced: bool) -> None:
    """The file deleted (or replaced by another) under a running store: the next write puts
    everything the connection still holds back on disk and stops, saying where."""
    path = tmp_path / "runs.db"
    with RunStore.open(path) as store:
        run_id = store.create_run(engine="local", strategy_title="kept", settings={"a": 1})
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        if replaced:
            path.write_bytes(b"")  # another program's empty file now sits at the path
        with pytest.raises(StoreError) as failed:
            store.add_event(run_id, "x", {})
        target = path.with_name("runs.recovered.db") if replaced else path
        assert failed.value.kind == "vanished"
        assert f"written back to {target}" in str(failed.value)
        assert ("--store" in str(failed.value)) is replaced
    with RunStore.open(target) as back:
        assert [r.strategy_title for r in back.list_runs()] == ["kept"]


def test_reports_to_a_full_disk_name_the_file_they_could_not_write(
        tmp_path: Path, finished_store: Path) -> None:
    why_not = _namespace_ready(tmp_path)
    if why_not:
        pytest.skip(why_not)
    out = tmp_path / "out"
    out.mkdir()
    script = "\n".join([
        f"mount -t tmpfs -o size=40k tmpfs '{out}' || exit 99",
        _tvdesk("report", "--store", str(finished_store), "--out", str(out))
        + " > report.out 2>&1",
        "echo report=$?",
    ])
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                           script], capture_output=True, text=True, env=_env(tmp_path),
                          cwd=tmp_path, timeout=300)
    said = (tmp_path / "report.out").read_text()
    assert _results(done.stdout).get("report") == 1, said + done.stderr
    assert f"tvdesk: error: {out}/" in said and ": the disk is full" in said
    assert "Traceback" not in said


def test_an_atomic_write_that_fails_names_its_file(tmp_path: Path) -> None:
    from tvdesk.fileio import write_text_atomically

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    target = blocker / "report.txt"  # its folder is a file
    with pytest.raises(OSError) as failed:
        write_text_atomically(target, "text")
    assert failed.value.filename == str(blocker)  # the file in the way, named by mkdir
    with pytest.raises(OSError) as failed:
        write_text_atomically(tmp_path, "text")  # a folder where the file should go
    assert failed.value.filename == str(tmp_path)  # not the hidden temp file
