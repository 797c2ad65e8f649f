"""`tvdesk optimize --git-commit`: a real short optimisation commits each new best to a real
temporary git repository, one commit per new best, and nothing else goes in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tvdesk.app.export_pine import trial_pine
from tvdesk.pine.loader import load_strategy_source
from tvdesk.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "pine" / "examples" / "sma_cross.pine"
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"
FAKE_KEY = "sk-test-FAKE-llm-key-0123456789"


def environment(tmp_path: Path) -> dict[str, str]:
    """A keyring in a file of the test's own, no user or system git config."""
    return {**os.environ, "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(tmp_path / "xdg"), "TVDESK_HOME": str(tmp_path / "home"),
            "GIT_CONFIG_GLOBAL": str(tmp_path / "no-global-gitconfig"),
            "GIT_CONFIG_NOSYSTEM": "1"}


def run(tmp_path: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          env=environment(tmp_path), timeout=timeout)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, env=environment(repo.parent)).stdout


def test_each_new_best_is_one_commit_with_its_metrics_and_its_inputs_as_defaults(
        tmp_path: Path) -> None:
    stored = run(tmp_path, "-c", "from tvdesk.secrets import set_secret, get_secret; "
                 f"set_secret('llm', 'api_key', {FAKE_KEY!r}); "
                 "print(get_secret('llm', 'api_key'))")
    assert stored.returncode == 0 and stored.stdout.strip() == FAKE_KEY, stored.stderr
    repo = tmp_path / "best-scripts"
    repo.mkdir()
    git(repo, "init", "-q")
    db = repo / "runs.db"  # the store inside the repository: it must still never be committed
    config = tmp_path / "config.toml"
    config.write_text('[optimize]\ngit_repository = "best-scripts"\n')
    done = run(tmp_path, "-m", "tvdesk", "--config", str(config), "optimize",
               "--script", str(EXAMPLE), "--data", str(EURUSD), "--mintick", "0.00001",
               "--store", str(db), "--workspace", str(tmp_path / "ws"),
               "--max-iterations", "8", "--holdout", "0%", "--seed", "3",
               "--min-trades", "5", "--git-commit")
    assert done.returncode == 0, done.stderr
    with RunStore.open(db) as store:
        run_id = store.latest_run_id()
        assert run_id is not None
        new_bests = [e.payload["trial_id"] for e in store.events(run_id, kind="new_best")]
        trials = {t.id: t for t in store.trials(run_id)}
        recorded = [e.payload["trial_id"] for e in store.events(run_id, kind="git_commit")]
        assert store.events(run_id, kind="git_warning") == []
        exported = {trial_id: trial_pine(store, trial_id) for trial_id in new_bests}
    assert len(new_bests) >= 2  # the script's own inputs, then at least one better
    shas = git(repo, "rev-list", "--reverse", "HEAD").split()
    assert len(shas) == len(new_bests) == len(recorded)
    assert recorded == new_bests
    assert f"git: {len(new_bests)} commits (one per new best) in {repo}" in done.stdout
    assert "initialised" not in done.stdout  # it was a repository already
    for sha, trial_id in zip(shas, new_bests, strict=True):
        trial = trials[trial_id]
        m = trial.metrics
        message = git(repo, "log", "-1", "--format=%B", sha)
        first = message.splitlines()[0]
        assert first == (f"tvdesk: new best trial {trial_id} (strategy) "
                         f"net {m['net_profit_percent']:+.2f}% "
                         f"dd {m['max_drawdown_percent']:.2f}% PF {m['profit_factor']:.2f} "
                         f"trades {m['total_trades']}")
        assert f"Run: {run_id}" in message and f"Store: {db}" in message
        assert f"  total_trades: {m['total_trades']}" in message
        assert f"  profit_factor: {m['profit_factor']:.6g}" in message
        assert "Targets: met (total_trades >= 5)" in message
        assert f"  Fast Length = {trial.inputs['Fast Length']}" in message
        assert git(repo, "log", "-1", "--format=%an <%ae>", sha).strip() == \
            "tvdesk <tvdesk@localhost>"
        # best.pine is the trial's script with the trial's values as its inputs' defaults.
        best = load_strategy_source(git(repo, "show", f"{sha}:best.pine"))
        defaults = {spec.title: spec.default for spec in best.inputs}
        assert defaults == trial.inputs
        assert git(repo, "show", f"{sha}:best.pine") == exported[trial_id]  # = export-pine
        assert git(repo, "show", f"{sha}:pc_1.pine") == EXAMPLE.read_text()
    # Each commit's best.pine differs from the one before: a better trial, other defaults.
    assert len({git(repo, "show", f"{sha}:best.pine") for sha in shas}) == len(shas)
    # Only its two files are in the repository; never the store, never a key.
    assert git(repo, "ls-files").split() == ["best.pine", "pc_1.pine"]
    history = git(repo, "log", "--all", "-p", "--format=%B")
    names = git(repo, "log", "--all", "--name-only", "--format=").split()
    assert not [n for n in names if n.endswith((".db", ".db-wal", ".db-shm"))]
    assert "sk-" not in history and FAKE_KEY not in history
    assert "?? runs.db" in git(repo, "status", "--porcelain", "--untracked-files=all")


def test_git_commit_without_a_repository_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("processes = 1\n")  # no [optimize] git_repository
    done = run(tmp_path, "-m", "tvdesk", "--config", str(config), "optimize",
               "--script", str(EXAMPLE), "--data", str(EURUSD), "--mintick", "0.00001",
               "--store", str(tmp_path / "runs.db"), "--max-iterations", "3", "--git-commit")
    assert done.returncode == 2
    assert re.search(r"needs a repository: --git-commit DIR, or git_repository", done.stderr)
    assert "Traceback" not in done.stderr
    with RunStore.open(tmp_path / "runs.db") as store:
        assert store.latest_run_id() is None  # refused before any run was stored
    # A folder with files that is not a repository: refused before the run is stored.
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    done = run(tmp_path, "-m", "tvdesk", "--config", str(config), "optimize",
               "--script", str(EXAMPLE), "--data", str(EURUSD), "--mintick", "0.00001",
               "--store", str(tmp_path / "runs.db"), "--max-iterations", "3",
               "--git-commit", str(folder))
    assert done.returncode == 2
    assert "not a git repository and not empty" in done.stderr
    assert not (folder / ".git").exists()
    with RunStore.open(tmp_path / "runs.db") as store:
        assert store.latest_run_id() is None
