"""The optimisation loop: tracks (one per condition), workers, limits, store, events.

Each condition value is a track with its own Optuna study and its own iteration budget
(`max_iterations`, shared by the track's workers). `process_count` workers run each track
concurrently on the engine. Every trial is committed to the run store before it runs (status
running) and again when it finishes, before that worker takes another: a kill loses at most the
trials in flight, and `--resume` re-runs exactly those. Limits (iterations, consecutive
errors, time budget, cancel, and targets met when `stop_on_target` is set) stop a track with a
reason that is stored and published. Otherwise targets do not stop a track: they filter (a trial
missing them is never the best while one meets them) and steer the search (Optuna
constraints), and the whole budget is spent looking for better. Each new best can be committed
to a git repository (`git_repository`, see git_best). The last part of the data (the holdout)
is never seen by the search; the best trial of each track is evaluated on it once, at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tvdesk import paths
from tvdesk.analytics.judgement import RunJudgement
from tvdesk.analytics.returns import result_daily_returns
from tvdesk.data.market_data import load_bars
from tvdesk.engines.base import Engine
from tvdesk.errors import FileVanished, InputError, TvdeskError
from tvdesk.events import Event, EventStream
from tvdesk.model import BacktestRequest, BacktestResult, InputValue, Strategy
from tvdesk.optimize import git_best
from tvdesk.optimize.judging import judge_stored_run
from tvdesk.optimize.param_search import ParamSearch
from tvdesk.optimize.settings import OptimizeSettings
from tvdesk.optimize.space import Dimension, SearchSpace, build_space
from tvdesk.optimize.watchlist_trials import TIMEFRAME_KEY, WatchlistTrial
from tvdesk.pine.loader import load_strategy_source
from tvdesk.store import Proposer as TrialProposer
from tvdesk.store import RunStatus, RunStore, TrialRow
from tvdesk.store.lease import HEARTBEAT_SECONDS, RunLease

if TYPE_CHECKING:
    from tvdesk.optimize.llm_client import LLMClient

# Closing bookkeeping after a failure may fail too (a full disk): the first error is the one to
# report. The run then stays 'running' with no live holder, which `--resume` takes over.
_CLOSING_FAILURES = (TvdeskError, sqlite3.Error, OSError)
MAX_STORE_ANSWERS = 200  # consecutive proposals already in the store: the space is exhausted


@dataclass(frozen=True, slots=True)
class Version:
    """One version of the strategy: the base script or an LLM rewrite, with its store hash."""

    strategy: Strategy
    source_hash: str


@dataclass(frozen=True, slots=True)
class TrialOutcome:
    trial_id: int
    metrics: dict[str, Any] | None = None
    result: BacktestResult | None = None
    error: str | None = None


@dataclass(slots=True)
class TrackState:
    condition: str | None
    search: ParamSearch | None
    iterations: int = 0
    consecutive_errors: int = 0
    store_answers: int = 0
    fruitless_restarts: int = 0  # LLM workers' restarts since the last new trial
    best: TrialRow | None = None
    best_score: tuple[int, float] = (0, float("-inf"))
    stop_reason: str | None = None
    met_by: int | None = None  # the first trial that met the targets
    targets_met: int = 0  # trials that met them


@dataclass(slots=True)
class RunOutcome:
    """How a run ended. `already_finished`: a resume found it finished and ran nothing."""

    run_id: str
    status: RunStatus
    tracks: dict[str | None, TrackState] = field(default_factory=dict)
    holdout: dict[str | None, BacktestResult] = field(default_factory=dict)
    judgement: RunJudgement | None = None
    already_finished: bool = False
    targets: tuple[str, ...] = ()  # the constraints, described; empty: none set
    git: git_best.GitReport | None = None  # with `git_repository`: what was committed


class Optimizer:
    def __init__(self, settings: OptimizeSettings, engine: Engine, store: RunStore, *,
                 events: EventStream | None = None, run_id: str | None = None,
                 llm: LLMClient | None = None,
                 export_pine: Callable[[RunStore, int], str] | None = None) -> None:
        """`llm`: the client for LLM rewrites, needed when the proposer is llm or both.
        `export_pine(store, trial_id)`: a trial's script with its inputs as defaults, for the
        git commits of new bests (default `git_best.default_export`)."""
        self.settings = settings
        self.engine = engine
        self.store = store
        self.events = events or EventStream()
        self.run_id = run_id
        self.strategy = settings.request.strategy
        self.source_hash = ""
        self.llm = llm
        self.workspace: Path | None = None  # set by run(): <data>/workspaces/<run id>
        self._deadline: float | None = None
        self._lost_lease: str | None = None
        self._in_sample, self._holdout = self._split_requests()
        # A watchlist run: each chart's own in-sample and holdout windows.
        self._watchlist = WatchlistTrial.for_settings(settings, self._split) \
            if settings.charts else None
        self.export_pine = export_pine or git_best.default_export
        self._git: git_best.GitBestCommitter | None = None
        self._git_pending: dict[int, list[tuple[str | None, int]]] = {}  # worker -> new bests
        self._git_lock = asyncio.Lock()

    # ------------------------------------------------------------------ setup

    def _split_requests(self) -> tuple[BacktestRequest, BacktestRequest | None]:
        return self._split(self.settings.request)

    def _split(self, request: BacktestRequest) -> tuple[BacktestRequest, BacktestRequest | None]:
        """In-sample and holdout requests: the holdout is the last `holdout` share of the bars
        inside the trading window, and the in-sample request stops just before it."""
        from tvdesk.data.market_data import bars_in_window

        if not request.data_path:
            return request, None
        # Checked with or without a holdout, here in __init__ before the run is stored: a
        # window with no bars would run every trial into the same error and "finish".
        bars = load_bars(request.data_path, timezone=request.symbol.timezone)
        lo, hi = bars_in_window(bars, request.date_from, request.date_to)
        if not self.settings.holdout:
            return request, None
        times = bars.times
        window = hi - lo
        cut = lo + int(window * (1 - self.settings.holdout))
        if window < 10 or cut >= hi:
            return request, None
        start = datetime.fromtimestamp(int(times[cut]) / 1000, UTC)
        in_sample = replace(request, date_to=start - timedelta(milliseconds=1))
        holdout = replace(request, date_from=start)
        return in_sample, holdout

    @property
    def _has_holdout(self) -> bool:
        """A holdout to evaluate the best trial on: the chart's, or every watchlist chart's."""
        if self._watchlist is not None:
            return self._watchlist.has_holdout
        return self._holdout is not None

    def _workspace(self) -> Path:
        root = Path(self.settings.workspace) if self.settings.workspace else \
            paths.data_dir() / "workspaces" / str(self.run_id)
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _publish(self, kind: str, **fields_: Any) -> None:
        event = Event(kind=kind, run_id=str(self.run_id), **fields_)  # type: ignore[arg-type]
        self.events.publish(event)
        if kind not in ("trial_started",):
            self.store.add_event(str(self.run_id), kind, {
                "worker": event.worker, "condition": event.condition,
                "trial_id": event.trial_id, **event.payload})

    # ------------------------------------------------------------------ run

    async def run(self) -> RunOutcome:
        """Start the run, or resume it, holding its lease throughout (see store.lease)."""
        resumed = self.run_id is not None
        if self.run_id is None:
            self._open_git()  # a refused repository is refused before the run is stored
            lease = self.store.start_run(
                engine=self.settings.engine, strategy_title=self.strategy.title,
                settings=self.settings.to_dict())
            self.run_id = lease.run_id
        else:
            # Refused here, before anything changes, when another process runs it.
            lease = self.store.acquire_run(self.run_id)
            if self.store.get_run(self.run_id).status == "finished":
                self.store.release_run(lease)
                return RunOutcome(run_id=self.run_id, status="finished", already_finished=True)
            try:
                self._open_git()
            except BaseException:
                self.store.release_run(lease)
                raise
        heartbeat = asyncio.ensure_future(self._keep_lease(lease))
        try:
            return await self._run_held(resumed)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(*_CLOSING_FAILURES):  # a dead holder's lease expires
                self.store.release_run(lease)

    async def _keep_lease(self, lease: RunLease) -> None:
        """Renew the run's lease while it runs; if it was taken over, stop every track."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                kept = await asyncio.to_thread(self.store.renew_run, lease)
            except TvdeskError:
                continue  # the store is failing; the trial that writes next will say so
            if not kept:
                self._lost_lease = ("another process took this run over (this one's heartbeat "
                                    "was late); stopped here")

    async def _run_held(self, resumed: bool) -> RunOutcome:
        from tvdesk.optimize.pine_text import normalized_hash

        assert self.run_id is not None
        self.source_hash = self.store.add_source(
            self.strategy.source, normalized_hash=normalized_hash(self.strategy.source))
        if resumed:
            self.store.resume_run(self.run_id)
            self.store.reset_unfinished(self.run_id)
        if self.settings.time_budget:
            self._deadline = time.monotonic() + self.settings.time_budget
        workspace = self.workspace = self._workspace()
        for n in range(1, self.settings.process_count + 1):
            worker_file = workspace / f"pc_{n}.pine"
            if not worker_file.exists() or not worker_file.read_text().strip():
                worker_file.write_text(self.strategy.source, encoding="utf-8")
        self._publish("run_started", payload={"resumed": resumed,
                                              "workspace": str(workspace)})
        if self._watchlist is not None:
            await self._watchlist.warm_up(self.engine)
        outcome = RunOutcome(run_id=self.run_id, status="running", targets=tuple(
            c.describe() for c in self.settings.targets.constraints))
        if self._git is not None:
            outcome.git = self._git.report
            git_best.record(self.store, self.run_id, "git_repository", {
                "repository": self._git.report.repository, "note": self._git.report.note})
        try:
            for condition in self.settings.conditions or (None,):
                track = self._new_track(condition)
                outcome.tracks[condition] = track
                await self._run_track(track)
            if self._lost_lease:
                raise TvdeskError(f"run {self.run_id}: {self._lost_lease}")
            for condition, track in outcome.tracks.items():
                if track.best is not None and self._has_holdout:
                    result = await self._evaluate_holdout(track)
                    if result is not None:
                        outcome.holdout[condition] = result
            # Seconds of numpy on big runs: off the event loop, so a GUI on it stays responsive.
            outcome.judgement = await asyncio.to_thread(self.judge)
            self._publish("judged", payload={"robustness": outcome.judgement.robustness})
            outcome.status = "finished"
        except asyncio.CancelledError:
            outcome.status = "stopped"
            with contextlib.suppress(*_CLOSING_FAILURES):
                self.store.reset_unfinished(self.run_id)
                self.store.finish_run(self.run_id, "stopped")
                self._publish("stopped", payload={"reason": "cancelled"})
            raise
        except BaseException:
            outcome.status = "failed"
            if not self._lost_lease:  # the run is someone else's now: leave its status alone
                with contextlib.suppress(*_CLOSING_FAILURES):
                    self.store.finish_run(self.run_id, "failed")
            raise
        self.store.finish_run(self.run_id, outcome.status)
        self._publish("stopped", payload={"reason": "finished", "tracks": {
            str(c): t.stop_reason for c, t in outcome.tracks.items()}})
        return outcome

    def judge(self) -> RunJudgement:
        """Tag every trial from the whole ledger (DSR, PBO, holdout, stability, Monte Carlo)."""
        return judge_stored_run(self.store, str(self.run_id), self.settings)

    def _new_track(self, condition: str | None) -> TrackState:
        space = build_space(self.strategy, overrides=self.settings.search_ranges,
                            exclude=self.settings.exclude_inputs,
                            condition_input=self.settings.condition_input)
        timeframes = self._watchlist.searched_timeframes() if self._watchlist else ()
        if timeframes:
            space = SearchSpace((*space.dimensions,
                                 Dimension(TIMEFRAME_KEY, "choice", choices=timeframes)))
        search = ParamSearch(space, self.settings.targets, sampler=self.settings.sampler,
                             seed=self.settings.seed) if space else None
        track = TrackState(condition=condition, search=search)
        done = [t for t in self.store.trials(str(self.run_id), condition=condition,
                                             segment="in_sample")
                if t.status in ("done", "error")]
        for row in done:
            track.iterations += 1
            if search is not None:
                search.add_done(row.inputs, row.metrics if row.status == "done" else None)
            if row.status == "done":
                self._consider_best(track, row)
                self._count_targets_met(track, row.id, row.metrics)
        if search is not None and not done:
            defaults: dict[str, Any] = {s.title: s.default for s in self.strategy.inputs}
            if timeframes:
                defaults[TIMEFRAME_KEY] = timeframes[0]
            search.enqueue(defaults)
        return track

    def _inputs_for(self, track: TrackState, proposed: Mapping[str, InputValue]) -> dict:
        inputs: dict[str, InputValue] = dict(self.settings.request.inputs)
        inputs.update(proposed)
        if track.condition is not None:
            inputs[self.settings.condition_input] = track.condition
        return inputs

    def should_stop(self, track: TrackState) -> bool:
        if track.stop_reason:
            return True
        if self._lost_lease:
            track.stop_reason = self._lost_lease
        elif track.iterations >= self.settings.max_iterations:
            track.stop_reason = f"max iterations ({self.settings.max_iterations}) reached"
        elif self._deadline is not None and time.monotonic() >= self._deadline:
            track.stop_reason = "time budget used up"
        return track.stop_reason is not None

    async def _run_track(self, track: TrackState) -> None:
        if self.settings.proposer in ("llm", "both"):
            await self._run_llm_track(track)
        elif track.search is None:
            # Nothing to search: evaluate the script once as it is (the baseline).
            if track.iterations == 0:
                await self.run_trial(track, worker=1, proposed={}, proposal=None)
            track.stop_reason = track.stop_reason or "no searchable inputs: baseline only"
        else:
            await asyncio.gather(*(self._param_worker(track, n)
                                   for n in range(1, self.settings.process_count + 1)))
        await self.commit_new_bests()
        self._publish("track_finished", condition=track.condition, payload={
            "reason": track.stop_reason, "iterations": track.iterations,
            "best_trial": track.best.id if track.best else None, "targets_met_by": track.met_by,
            "targets_met": track.targets_met})

    async def _run_llm_track(self, track: TrackState) -> None:
        from tvdesk.optimize.llm_worker import LLMWorker, make_candidate
        from tvdesk.optimize.pine_text import normalized_hash

        if self.llm is None:
            raise InputError("LLM rewrites need an LLM client (endpoint and API key)",
                             source="--proposer")
        base_version = Version(self.strategy, self.source_hash)
        baseline = next((t for t in self.store.trials(str(self.run_id),
                                                      condition=track.condition)
                         if t.proposer == "baseline" and t.status == "done"), None)
        if baseline is None:
            self.track_iteration(track)
            outcome = await self.run_trial(track, worker=1, proposed={}, proposal=None)
            metrics = outcome.metrics or {}
            baseline_id = outcome.trial_id
            await self.commit_new_bests(1)
        else:
            metrics, baseline_id = baseline.metrics, baseline.id
        seen_normalized = {normalized_hash(self.strategy.source)}
        seen_trades: set[str] = set()
        workers = [LLMWorker(self, track, n, seen_normalized, seen_trades)
                   for n in range(1, self.settings.process_count + 1)]
        base = make_candidate(self.settings.targets, base_version, dict(metrics), baseline_id,
                              "base script")
        await asyncio.gather(*(w.run(base) for w in workers))

    # ------------------------------------------------------------------ for the LLM workers

    def track_iteration(self, track: TrackState) -> None:
        """Count one trial against the track's `max_iterations` (before it runs)."""
        track.iterations += 1

    def add_version(self, code: str, strategy: Strategy, *, normalized_hash: str,
                    parent: Version) -> Version:
        """Record a rewrite of `parent` in the store (its lineage) and return it runnable."""
        source_hash = self.store.add_source(code, normalized_hash=normalized_hash,
                                            parent_hash=parent.source_hash)
        return Version(strategy, source_hash)

    def publish_error(self, track: TrackState, worker: int, message: str) -> None:
        self._publish("error", worker=worker, condition=track.condition, payload={
            "message": message, "consecutive": track.consecutive_errors})

    def publish_duplicate(self, track: TrackState, worker: int, why: str, count: int) -> None:
        self._publish("duplicate", worker=worker, condition=track.condition,
                      payload={"why": why, "consecutive": count})

    def publish_restart(self, track: TrackState, worker: int, count: int, start: str) -> None:
        self._publish("worker_restarted", worker=worker, condition=track.condition, payload={
            "after_duplicates": count, "restarted_from": start})

    async def _param_worker(self, track: TrackState, worker: int) -> None:
        assert track.search is not None
        while not self.should_stop(track):
            proposal = track.search.ask()
            inputs = self._inputs_for(track, proposal.inputs)
            previous = self.store.find_done_trial(str(self.run_id), self.source_hash, inputs)
            if previous is not None:
                track.search.tell(proposal, previous.metrics if previous.status == "done"
                                  else None)
                track.store_answers += 1
                if track.store_answers >= MAX_STORE_ANSWERS:
                    track.stop_reason = "search space exhausted (every proposal already ran)"
                continue
            track.store_answers = 0
            track.iterations += 1
            outcome = await self.run_trial(track, worker=worker, proposed=proposal.inputs,
                                        proposal=proposal)
            track.search.tell(proposal, outcome.metrics)
            if track.search.grid_finished:
                track.stop_reason = track.stop_reason or "grid search done: every point ran"
            await self.commit_new_bests(worker)

    async def run_trial(self, track: TrackState, *, worker: int, proposed: Mapping[str, Any],
                     proposal: Any, version: Version | None = None,
                     proposer: TrialProposer | None = None) -> TrialOutcome:
        """Run one trial: commit it, run it, commit the outcome, publish; returns its outcome.

        `version` is the strategy version to run (an LLM rewrite); the base script otherwise.
        """
        version = version or Version(self.strategy, self.source_hash)
        inputs = self._inputs_for(track, proposed)
        trial_id = self.store.start_trial(
            str(self.run_id), worker=worker, condition=track.condition,
            iteration=track.iterations,
            proposer=proposer or ("params" if proposal else "baseline"),
            source_hash=version.source_hash, inputs=inputs)
        self._publish("trial_started", worker=worker, condition=track.condition,
                      trial_id=trial_id, payload={"inputs": inputs})
        started = time.monotonic()
        charts: list = []
        try:
            if self._watchlist is not None:
                result, charts, daily = await self._watchlist.run(
                    self.engine, version.strategy, inputs, holdout=False)
            else:
                request = replace(self._in_sample, strategy=version.strategy)
                result = await self.engine.run(request.with_inputs(inputs))
                daily = result_daily_returns(result)
        except TvdeskError as exc:
            self._check_data_still_there()  # else this trial stays unfinished: resume reruns it
            track.consecutive_errors += 1
            self.store.finish_trial(trial_id, error=str(exc), status="error")
            self._publish("error", worker=worker, condition=track.condition, trial_id=trial_id,
                          payload={"message": str(exc),
                                   "consecutive": track.consecutive_errors})
            if track.consecutive_errors >= self.settings.max_consecutive_errors:
                track.stop_reason = (f"{track.consecutive_errors} consecutive errors "
                                     f"(max {self.settings.max_consecutive_errors}); last: {exc}")
            return TrialOutcome(trial_id, error=str(exc))
        track.consecutive_errors = 0
        metrics = dict(result.metrics)
        failures = self.settings.targets.failures(metrics)
        self.store.finish_trial(trial_id, result=result, metrics=metrics, reasons=failures,
                                daily_returns=daily, charts=charts)
        row = self.store.trial(trial_id)
        seconds = time.monotonic() - started
        self._publish("trial_finished", worker=worker, condition=track.condition,
                      trial_id=trial_id, payload={
                          "inputs": inputs, "seconds": seconds, "iteration": track.iterations,
                          "net_profit_percent": metrics.get("net_profit_percent"),
                          "max_drawdown_percent": metrics.get("max_drawdown_percent"),
                          "total_trades": metrics.get("total_trades"),
                          "potential": self.settings.targets.is_potential(metrics),
                          "targets_met": not failures and bool(self.settings.targets.constraints),
                      })
        if self._consider_best(track, row):
            self._publish("new_best", worker=worker, condition=track.condition,
                          trial_id=trial_id, payload={
                              "score": self.settings.targets.score(metrics), "inputs": inputs})
            if self._git is not None:  # committed once the worker has written its pc_<n>.pine
                self._git_pending.setdefault(worker, []).append((track.condition, trial_id))
        self._count_targets_met(track, trial_id, metrics)
        return TrialOutcome(trial_id, metrics=metrics, result=result)

    def _count_targets_met(self, track: TrackState, trial_id: int,
                           metrics: Mapping[str, Any]) -> None:
        """Count a trial meeting the targets; with `stop_on_target` the first one stops the
        track (also when a resumed run finds it among the trials it ran before)."""
        if not self.settings.targets.met(metrics):
            return
        track.targets_met += 1
        if track.met_by is None:
            track.met_by = trial_id
            if self.settings.stop_on_target:
                track.stop_reason = track.stop_reason or f"targets met by trial {trial_id}"

    # ------------------------------------------------------------------ git

    def _open_git(self) -> None:
        if self.settings.git_repository:
            self._git = git_best.GitBestCommitter.open(self.settings.git_repository,
                                                       push=self.settings.git_push)

    async def commit_new_bests(self, worker: int | None = None) -> None:
        """Commit the new bests `worker` found (every worker's when None), one commit each,
        in the order they were found. Called when the worker's pc_<n>.pine is up to date (after
        its trial; an LLM worker after its round). A failure is a warning: the run goes on."""
        if self._git is None:
            return
        for key in ([worker] if worker is not None else sorted(self._git_pending)):
            for condition, trial_id in self._git_pending.pop(key, []):
                await self._commit_best(key, condition, trial_id)

    async def _commit_best(self, worker: int, condition: str | None, trial_id: int) -> None:
        git = self._git
        assert git is not None and self.workspace is not None
        run_id = str(self.run_id)
        async with self._git_lock:  # one commit at a time, in the order they were found
            warnings_before = len(git.report.warnings)
            row = self.store.trial(trial_id)
            files: dict[str, str] = {}
            worker_file = self.workspace / f"pc_{worker}.pine"
            try:
                files[worker_file.name] = worker_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                git.warn(f"trial {trial_id}: {worker_file.name} not committed: {exc}")
            try:
                files[git_best.best_file_name(condition)] = self.export_pine(self.store,
                                                                             trial_id)
            except (TvdeskError, LookupError, ValueError) as exc:
                git.warn(f"trial {trial_id}: its script with its inputs as defaults was not "
                         f"written: {exc}")
            message = git_best.commit_message(
                trial=row, run_id=run_id, store_path=str(self.store.path),
                strategy_title=self.strategy.title, targets=self.settings.targets,
                files=sorted(files))
            sha = await asyncio.to_thread(git.commit, trial_id, files, message)
            if sha is not None:
                git_best.record(self.store, run_id, "git_commit", {
                    "trial_id": trial_id, "condition": condition, "commit": sha,
                    "files": sorted(files), "repository": git.report.repository})
            for warning in git.report.warnings[warnings_before:]:
                git_best.record(self.store, run_id, "git_warning",
                                {"trial_id": trial_id, "message": warning})

    def _check_data_still_there(self) -> None:
        """A trial failed: was it because the market data file went away under the run?"""
        paths_ = [self.settings.request.data_path, *(c.data_path for c in self.settings.charts)]
        path = next((p for p in paths_ if p and not Path(p).is_file()), None)
        if path:
            done = self.store.count_trials(str(self.run_id), status="done")
            raise FileVanished(
                f"{path}: the market data file was deleted or moved while the run was going "
                f"on; the {done} trials finished before are kept. Put it back, then continue "
                "with `tvdesk optimize --resume latest`")

    def _consider_best(self, track: TrackState, row: TrialRow) -> bool:
        """Feasible beats infeasible, then the objective: a worse result never becomes best."""
        targets = self.settings.targets
        feasible = 1 if not targets.failures(row.metrics) else 0
        key = (feasible, targets.score(row.metrics))
        if track.best is None or key > track.best_score:
            track.best, track.best_score = row, key
            return True
        return False

    async def _evaluate_holdout(self, track: TrackState) -> BacktestResult | None:
        assert track.best is not None and self._has_holdout
        inputs = track.best.inputs
        done = self.store.find_done_trial(str(self.run_id), track.best.source_hash, inputs,
                                          segment="holdout", condition=track.condition)
        if done is not None:  # evaluated before the run was interrupted: once is enough
            return self.store.trial_result(done.id)
        trial_id = self.store.start_trial(
            str(self.run_id), worker=0, condition=track.condition, iteration=track.iterations,
            proposer=track.best.proposer, source_hash=track.best.source_hash, inputs=inputs,
            segment="holdout")
        strategy = self.strategy
        if track.best.source_hash != self.source_hash:
            strategy = load_strategy_source(self.store.get_source(track.best.source_hash))
        charts: list = []
        try:
            if self._watchlist is not None:
                result, charts, daily = await self._watchlist.run(
                    self.engine, strategy, inputs, holdout=True)
            else:
                assert self._holdout is not None
                request = replace(self._holdout, strategy=strategy)
                result = await self.engine.run(request.with_inputs(inputs))
                daily = result_daily_returns(result)
        except TvdeskError as exc:
            self._check_data_still_there()
            self.store.finish_trial(trial_id, error=str(exc), status="error")
            return None
        self.store.finish_trial(trial_id, result=result, metrics=dict(result.metrics),
                                daily_returns=daily, charts=charts)
        self._publish("holdout", condition=track.condition, trial_id=trial_id, payload={
            "of_trial": track.best.id,
            "net_profit_percent": result.metrics.get("net_profit_percent"),
            "max_drawdown_percent": result.metrics.get("max_drawdown_percent")})
        return result

