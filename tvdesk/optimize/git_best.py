"""Commit each new best of a run to a git repository the user chose (`--git-commit`).

One commit per new best: the worker's `pc_<n>.pine` as it is, and the best trial's script with
its inputs written as defaults (`best.pine`; `best_condition_<c>.pine` per condition track),
with the trial's metrics, inputs, run id and store path in the message. Only those files are
added and committed (`git commit -- <files>`), so whatever else the user has changed or staged
in the repository is never swept in; the run store and secrets never go there. The git CLI does
the work (no library); a folder that does not exist or is empty becomes a new repository, a
folder with files that is not a repository is refused (tvdesk does not turn an arbitrary folder,
a home folder say, into a repository).

After setup, git failing (a hook refusing, a locked index, a push without a remote) is a
warning, never the end of the run.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tvdesk.errors import InputError, TvdeskError

if TYPE_CHECKING:
    from tvdesk.config import OptimizeDefaults
    from tvdesk.optimize.targets import Targets
    from tvdesk.store import RunStore, TrialRow

log = logging.getLogger(__name__)

FALLBACK_NAME = "tvdesk"
FALLBACK_EMAIL = "tvdesk@localhost"
GIT_TIMEOUT = 60.0  # seconds for one git command (a hook or signing that waits gives up)
PUSH_TIMEOUT = 120.0
# Environment that would point git at another repository than the one chosen (tvdesk started
# from a git hook, say).
_GIT_LOCATION_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                           "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_PREFIX")
KEY_METRICS = (
    "net_profit_percent", "net_profit", "max_drawdown_percent", "max_drawdown", "profit_factor",
    "total_trades", "percent_profitable", "avg_trade_percent", "ratio_avg_win_loss",
    "sharpe_ratio", "sortino_ratio", "sharpe_daily", "sortino_daily", "calmar",
    "recovery_factor", "cagr_percent", "buy_hold_return_percent", "largest_losing_trade_percent",
    "commission_paid", "margin_calls",
)


class GitFailed(Exception):
    """A git command failed: its arguments and what git said."""


@dataclass(slots=True)
class GitReport:
    """What the committer did in a run, for the closing summary."""

    repository: str
    note: str | None = None  # e.g. "initialised a new git repository in ..."
    commits: list[tuple[int, str]] = field(default_factory=list)  # (trial id, commit hash)
    warnings: list[str] = field(default_factory=list)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARIABLES}
    env["GIT_TERMINAL_PROMPT"] = "0"  # never wait for a password on a terminal
    return env


def _git(folder: Path, *args: str, timeout: float = GIT_TIMEOUT,
         config: Sequence[str] = ()) -> str:
    command = ["git", *config, "-C", str(folder), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              env=_environment(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise GitFailed(f"git {args[0]} did not finish within {timeout:g} s") from None
    except OSError as exc:
        raise GitFailed(f"git {args[0]}: {exc}") from None
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise GitFailed(f"git {args[0]} failed (exit {done.returncode}): "
                        f"{' '.join(said[-3:]) or 'no message'}")
    return done.stdout


def _config_value(folder: Path, key: str) -> str | None:
    try:
        return _git(folder, "config", "--get", key).strip() or None
    except GitFailed:
        return None  # unset (exit 1)


def _number(value: object, spec: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    return format(value, spec)


def _pine_value(value: object) -> str:
    """An input value as Pine writes it: true/false, strings quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def best_file_name(condition: str | None) -> str:
    """`best.pine`, or `best_condition_<c>.pine` for a condition track."""
    if condition is None:
        return "best.pine"
    return f"best_condition_{re.sub(r'[^A-Za-z0-9_.-]', '_', condition)}.pine"


def default_export(store: RunStore, trial_id: int) -> str:
    """The trial's script with every input it ran with written as that input's default."""
    from tvdesk.pine.input_defaults import set_input_defaults

    trial = store.trial(trial_id)
    return set_input_defaults(store.get_source(trial.source_hash), trial.inputs)


def commit_message(*, trial: TrialRow, run_id: str, store_path: str, strategy_title: str,
                   targets: Targets, files: Sequence[str]) -> str:
    """First line: trial, track and the headline metrics; then every key metric, the targets,
    the inputs, the run and the store. Nothing secret: the run's values only."""
    m = trial.metrics
    label = f"condition {trial.condition}" if trial.condition is not None else "strategy"
    title = (f"tvdesk: new best trial {trial.id} ({label}) "
             f"net {_number(m.get('net_profit_percent'), '+.2f')}% "
             f"dd {_number(m.get('max_drawdown_percent'), '.2f')}% "
             f"PF {_number(m.get('profit_factor'), '.2f')} "
             f"trades {_number(m.get('total_trades'), 'd')}")
    failures = targets.failures(m)
    if not targets.constraints:
        target_line = "none set"
    elif failures:
        target_line = f"not met ({', '.join(failures)})"
    else:
        target_line = "met (" + ", ".join(c.describe() for c in targets.constraints) + ")"
    direction = "max" if targets.maximize else "min"
    lines = [
        title, "",
        f"Run: {run_id}",
        f"Strategy: {strategy_title}",
        f"Store: {store_path}",
        f"Trial: {trial.id} (worker {trial.worker}, iteration {trial.iteration}, "
        f"proposer {trial.proposer}, source {trial.source_hash[:12]})",
        f"Condition: {trial.condition if trial.condition is not None else '-'}",
        f"Objective: {targets.objective} ({direction}) = "
        f"{_number(m.get(targets.objective), '.6g')}",
        f"Targets: {target_line}",
        "", "Metrics:",
    ]
    keys = list(KEY_METRICS)
    keys += [k for k in (targets.objective, *(k for k, _ in targets.extra_objectives),
                         *(c.metric for c in targets.constraints)) if k not in keys]
    lines += [f"  {key}: {_number(m.get(key), '.6g')}" for key in keys if key in m]
    lines += ["", "Inputs:"]
    lines += [f"  {name} = {_pine_value(value)}" for name, value in trial.inputs.items()] \
        or ["  (none)"]
    lines += ["", "Files: " + ", ".join(files)]
    return "\n".join(lines) + "\n"


class GitBestCommitter:
    """The repository a run commits its new bests to (`open` checks and prepares it)."""

    def __init__(self, folder: Path, *, push: bool, identity: Sequence[str],
                 forbidden: Sequence[str], report: GitReport) -> None:
        self.folder = folder
        self.push = push
        self.identity = tuple(identity)  # `-c user.name=...` where git has none configured
        self.forbidden = tuple(s for s in forbidden if s and len(s) >= 8)
        self.report = report

    @classmethod
    def open(cls, folder: str | Path, *, push: bool = False,
             forbidden: Sequence[str] | None = None) -> GitBestCommitter:
        """Check the folder and make it a repository when it is new or empty.

        InputError (source `--git-repo`) when git is missing, the path is a file, or the folder
        has files and is not in a git work tree. `forbidden`: texts never to commit (default:
        the secrets stored in the keyring).
        """
        path = Path(folder).expanduser().absolute()
        if shutil.which("git") is None:
            raise InputError("committing each new best needs the git command, which is not "
                             "installed (or not on PATH)", source="--git-repo")
        if path.exists() and not path.is_dir():
            raise InputError(f"{path} is a file, not a folder for a git repository",
                             source="--git-repo")
        report = GitReport(repository=str(path))
        inside = False
        if path.is_dir():
            try:
                inside = _git(path, "rev-parse", "--is-inside-work-tree").strip() == "true"
            except GitFailed:
                inside = False
        if not inside:
            if path.is_dir() and any(path.iterdir()):
                raise InputError(f"{path} is not a git repository and not empty: run "
                                 "`git init` there first, or choose a new or empty folder",
                                 source="--git-repo")
            try:
                path.mkdir(parents=True, exist_ok=True)
                _git(path, "init", "-q")
            except (OSError, GitFailed) as exc:
                raise InputError(f"cannot create a git repository in {path}: {exc}",
                                 source="--git-repo") from None
            report.note = f"initialised a new git repository in {path}"
            log.info("git: %s", report.note)
        identity: list[str] = []
        if _config_value(path, "user.name") is None:
            identity += ["-c", f"user.name={FALLBACK_NAME}"]
        if _config_value(path, "user.email") is None:
            identity += ["-c", f"user.email={FALLBACK_EMAIL}"]
        if forbidden is None:
            forbidden = _stored_secrets()
        return cls(path, push=push, identity=identity, forbidden=forbidden, report=report)

    def commit(self, trial_id: int, files: Mapping[str, str], message: str) -> str | None:
        """Write `files` (name -> text) into the folder and commit exactly them; returns the
        commit hash, or None after recording a warning. Never raises for a git failure."""
        try:
            self._refuse_secrets(files, message)
            names = self._write(files)
            _git(self.folder, "add", "--", *names)
            # Only these paths: the user's other changes, staged or not, stay as they are.
            # --allow-empty keeps one commit per new best even if its files did not change.
            _git(self.folder, "commit", "-q", "--allow-empty", "-m", message, "--", *names,
                 config=self.identity)
            sha = _git(self.folder, "rev-parse", "HEAD").strip()
        except (GitFailed, OSError, ValueError) as exc:
            self.warn(f"trial {trial_id} not committed: {exc}")
            return None
        self.report.commits.append((trial_id, sha))
        log.info("git: committed trial %s as %s in %s", trial_id, sha[:12], self.folder)
        if self.push:
            try:
                _git(self.folder, "push", "-q", timeout=PUSH_TIMEOUT)
            except GitFailed as exc:
                self.warn(f"trial {trial_id} committed as {sha[:12]} but not pushed: {exc}")
        return sha

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)
        log.warning("git (%s): %s", self.folder, message)

    def _write(self, files: Mapping[str, str]) -> list[str]:
        names = []
        for name, text in files.items():
            if Path(name).name != name or not name.endswith(".pine"):
                raise ValueError(f"refusing to write {name!r}: only .pine files in the folder")
            target = self.folder / name
            if not target.exists() or target.read_text(encoding="utf-8",
                                                       errors="replace") != text:
                target.write_text(text, encoding="utf-8")
            names.append(name)
        return names

    def _refuse_secrets(self, files: Mapping[str, str], message: str) -> None:
        for text in (message, *files.values()):
            if any(secret in text for secret in self.forbidden):
                raise ValueError("a stored secret (API key, password) appears in what would be "
                                 "committed; nothing was written")


def _stored_secrets() -> list[str]:
    from tvdesk.secrets import known_secrets

    try:
        return known_secrets()
    except Exception as exc:  # whatever the keyring does: no keyring, no secret to check
        log.info("git: no stored secrets to check against (%s)", exc)
        return []


def summary_lines(report: GitReport) -> list[str]:
    """For the CLI's closing summary."""
    lines = []
    if report.note:
        lines.append(f"git: {report.note}")
    count = len(report.commits)
    lines.append(f"git: {count} commit{'s' if count != 1 else ''} (one per new best) in "
                 f"{report.repository}")
    lines += [f"git warning: {w}" for w in report.warnings]
    return lines


def record(store: RunStore, run_id: str, kind: str, payload: Mapping[str, Any]) -> None:
    """Store a git event with the run (never raises: the run goes on)."""
    try:
        store.add_event(run_id, kind, dict(payload))
    except (TvdeskError, sqlite3.Error, OSError) as exc:
        log.warning("git: cannot record %s in the store: %s", kind, exc)


def chosen_repository(git_commit: bool, git_repo: str | None,
                      defaults: OptimizeDefaults) -> str | None:
    """The repository a new run commits its bests to, or None: `--git-repo DIR` (which implies
    `--git-commit`), else the config's `git_repository` when `--git-commit` or the config's
    `git_commit` asks for commits. InputError when commits are asked for without a repository."""
    if git_repo:
        return str(Path(git_repo).expanduser().absolute())
    if not (git_commit or defaults.git_commit):
        return None
    if defaults.git_repository is None:
        raise InputError("committing each new best needs a repository: --git-commit DIR, or "
                         "git_repository in the [optimize] table of the config file",
                         source="--git-commit")
    return str(defaults.git_repository.expanduser().absolute())
