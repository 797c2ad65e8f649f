"""The git committer of new bests on real temporary repositories (the git CLI), and its
settings: the [optimize] table, the flags' resolution."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tvdesk.config import OptimizeDefaults, Settings, load_settings, save_settings
from tvdesk.errors import ConfigError, InputError
from tvdesk.optimize import git_best
from tvdesk.optimize.git_best import GitBestCommitter, chosen_repository, commit_message
from tvdesk.optimize.targets import Targets, parse_constraint
from tvdesk.store.records import TrialRow

SECRET = "sk-test-FAKE-key-0123456789"


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git config: the author falls back, no hook or signing of the host."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                          check=True).stdout


def open_repo(folder: Path, **kwargs) -> GitBestCommitter:
    kwargs.setdefault("forbidden", [SECRET])
    return GitBestCommitter.open(folder, **kwargs)


def test_a_new_folder_becomes_a_repository_and_says_so(tmp_path: Path) -> None:
    committer = open_repo(tmp_path / "new" / "repo")
    assert committer.report.note == f"initialised a new git repository in {tmp_path}/new/repo"
    assert (tmp_path / "new" / "repo" / ".git").is_dir()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert open_repo(empty).report.note is not None
    # An existing repository is used as it is.
    assert open_repo(empty).report.note is None


def test_a_folder_with_files_that_is_not_a_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a git repository and not empty") as caught:
        open_repo(tmp_path)
    assert caught.value.source == "--git-repo"
    assert not (tmp_path / ".git").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        open_repo(tmp_path / "file")


def test_only_its_own_files_are_committed_and_the_users_changes_stay(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.name", "Trader Joe")
    git(repo, "config", "user.email", "joe@example.com")
    (repo / "mine.txt").write_text("v1\n")
    git(repo, "add", "mine.txt")
    git(repo, "commit", "-q", "-m", "user's own")
    (repo / "mine.txt").write_text("v2 staged\n")
    git(repo, "add", "mine.txt")
    (repo / "draft.pine").write_text("// untracked draft\n")
    committer = open_repo(repo)
    sha = committer.commit(7, {"best.pine": "//@version=6\n", "pc_1.pine": "// worker\n"},
                           "tvdesk: new best trial 7\n\nbody\n")
    assert sha is not None and committer.report.commits == [(7, sha)]
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
        "best.pine", "pc_1.pine"]
    assert git(repo, "log", "-1", "--format=%an <%ae>").strip() == "Trader Joe <joe@example.com>"
    # The user's staged change is still staged (not committed), the draft still untracked.
    assert git(repo, "diff", "--cached", "--name-only").split() == ["mine.txt"]
    assert "?? draft.pine" in git(repo, "status", "--porcelain")
    assert git(repo, "show", "HEAD:mine.txt") == "v1\n"


def test_without_a_configured_author_the_commit_is_tvdesks(tmp_path: Path) -> None:
    committer = open_repo(tmp_path / "repo")
    sha = committer.commit(1, {"best.pine": "// a\n"}, "tvdesk: new best trial 1\n")
    assert sha is not None
    assert git(tmp_path / "repo", "log", "-1", "--format=%an <%ae>").strip() == \
        "tvdesk <tvdesk@localhost>"
    # One commit per new best, even when the files did not change.
    assert committer.commit(2, {"best.pine": "// a\n"}, "tvdesk: new best trial 2\n")
    assert git(tmp_path / "repo", "rev-list", "--count", "HEAD").strip() == "2"


def test_a_stored_secret_is_never_committed(tmp_path: Path) -> None:
    committer = open_repo(tmp_path / "repo")
    assert committer.commit(3, {"best.pine": f"// key {SECRET}\n"}, "msg\n") is None
    assert committer.commit(4, {"best.pine": "// fine\n"}, f"msg {SECRET}\n") is None
    assert committer.report.commits == []
    assert [w.split(":")[0] for w in committer.report.warnings] == ["trial 3 not committed",
                                                                    "trial 4 not committed"]
    assert "stored secret" in committer.report.warnings[0]
    assert not (tmp_path / "repo" / "best.pine").exists()


def test_git_failures_are_warnings_never_exceptions(tmp_path: Path) -> None:
    committer = open_repo(tmp_path / "repo")
    hook = tmp_path / "repo" / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'refused by the hook' >&2\nexit 1\n")
    hook.chmod(0o755)
    assert committer.commit(5, {"best.pine": "// x\n"}, "msg\n") is None
    assert "refused by the hook" in committer.report.warnings[-1]
    hook.unlink()
    # A push without a remote: committed, and a warning that it was not pushed.
    pushing = open_repo(tmp_path / "repo", push=True)
    sha = pushing.commit(6, {"best.pine": "// y\n"}, "msg\n")
    assert sha is not None
    assert pushing.report.warnings[-1].startswith(f"trial 6 committed as {sha[:12]} but not "
                                                  "pushed")
    with pytest.raises(ValueError):  # only .pine files in the folder itself are ever written
        pushing._write({"../escape.pine": ""})


def test_push_reaches_the_configured_remote(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    committer = open_repo(tmp_path / "repo", push=True)
    git(tmp_path / "repo", "remote", "add", "origin", str(remote))
    git(tmp_path / "repo", "config", "push.default", "current")
    sha = committer.commit(1, {"best.pine": "// pushed\n"}, "msg\n")
    assert sha is not None and committer.report.warnings == []
    assert git(remote, "rev-parse", "HEAD").strip() == sha


def _trial(**overrides) -> TrialRow:
    values = dict(id=12, run_id="20260101-000000-abcd", worker=2, condition="3", iteration=9,
                  proposer="params", source_hash="0123456789abcdef", params_key="k",
                  inputs={"Fast Length": 12, "Allow Shorts": False, "Mode": "fast"},
                  status="done", tag=None, reasons=(), error=None,
                  started_at=datetime(2026, 1, 1, tzinfo=UTC), finished_at=None, seconds=1.0,
                  segment="in_sample", has_result=True,
                  metrics={"net_profit_percent": 1.2345, "max_drawdown_percent": 4.5,
                           "profit_factor": 1.4, "total_trades": 57, "sharpe_ratio": 0.31})
    values.update(overrides)
    return TrialRow(**values)  # type: ignore[arg-type]


def test_the_message_carries_the_metrics_inputs_run_and_store() -> None:
    targets = Targets(constraints=(parse_constraint("min_trades=30"),))
    message = commit_message(trial=_trial(), run_id="20260101-000000-abcd",
                             store_path="/data/runs.db", strategy_title="SMA Cross",
                             targets=targets, files=["best_condition_3.pine", "pc_2.pine"])
    lines = message.splitlines()
    assert lines[0] == ("tvdesk: new best trial 12 (condition 3) net +1.23% dd 4.50% PF 1.40 "
                        "trades 57")
    assert lines[1] == ""
    for expected in ("Run: 20260101-000000-abcd", "Store: /data/runs.db", "Strategy: SMA Cross",
                     "Targets: met (total_trades >= 30)", "  sharpe_ratio: 0.31",
                     "  total_trades: 57", "  Fast Length = 12", "  Allow Shorts = false",
                     '  Mode = "fast"', "Files: best_condition_3.pine, pc_2.pine"):
        assert expected in lines
    no_pf = commit_message(trial=_trial(condition=None, metrics={"total_trades": 0}),
                           run_id="r", store_path="s", strategy_title="t",
                           targets=targets, files=[])
    assert no_pf.splitlines()[0] == ("tvdesk: new best trial 12 (strategy) net n/a% dd n/a% "
                                     "PF n/a trades 0")
    assert "Targets: not met (total_trades >= 30)" in no_pf
    assert git_best.best_file_name(None) == "best.pine"
    assert git_best.best_file_name("a/b") == "best_condition_a_b.pine"


def test_which_repository_a_run_commits_to(tmp_path: Path) -> None:
    none = OptimizeDefaults()
    assert chosen_repository(False, None, none) is None
    assert chosen_repository(False, str(tmp_path / "r"), none) == str(tmp_path / "r")
    with pytest.raises(InputError, match="needs a repository") as caught:
        chosen_repository(True, None, none)
    assert caught.value.source == "--git-commit"
    configured = OptimizeDefaults(git_repository=tmp_path / "cfg")
    assert chosen_repository(False, None, configured) is None  # configured, not asked for
    assert chosen_repository(True, None, configured) == str(tmp_path / "cfg")
    assert chosen_repository(False, str(tmp_path / "flag"), configured) == str(tmp_path / "flag")
    always = OptimizeDefaults(git_commit=True, git_repository=tmp_path / "cfg")
    assert chosen_repository(False, None, always) == str(tmp_path / "cfg")


def test_the_optimize_table_reads_checks_and_saves(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[optimize]\nstop_on_target = true\ngit_commit = true\n'
                      'git_repository = "best"\ngit_push = true\n')
    loaded = load_settings(config)
    assert loaded.optimize == OptimizeDefaults(stop_on_target=True, git_commit=True,
                                               git_repository=tmp_path / "best", git_push=True)
    save_settings(loaded, config)
    assert 'git_repository = "best"' in config.read_text()
    assert load_settings(config).optimize == loaded.optimize
    save_settings(Settings(), config)
    assert "[optimize]" not in config.read_text()  # defaults are not written
    config.write_text('[optimize]\ngit_push = "yes"\n')
    with pytest.raises(ConfigError, match=r"key 'optimize\.git_push': expected true or false"):
        load_settings(config)
    config.write_text('[optimize]\nstop_on_targets = true\n')
    with pytest.raises(ConfigError, match="stop_on_targets"):
        load_settings(config)
