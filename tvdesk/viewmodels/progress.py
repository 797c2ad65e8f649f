"""Live progress of a run as data: per-worker series, trials per minute, ETA, log lines. No Qt.

The GUI's Runs view feeds every event of the run to a `RunMonitor` (cheap: an append) and
draws what it holds on a timer; reopening a run builds the same monitor from the store
(`RunMonitor.from_store`), so a finished run looks as it did live.

A trial's x position is its track's iteration count when it finished (the `iteration` of its
`trial_finished` event, as the CLI shows it); tracks (conditions) follow one another, so the
n-th track's iterations are offset by n × `max_iterations` and a worker's x only grows. Each
track is its own stretch of line: a gap (NaN) separates two tracks, and a point that would go
back in x starts a new stretch instead of drawing a line backwards.

The progress total is planned once from the run's settings (`planned_total`) and never
shrinks: a track that stops early (targets met, time budget) counts its unused budget as
skipped, so a progress bar only moves forward.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from tvdesk.events import Event
from tvdesk.viewmodels.formatting import format_inputs, input_steps

if TYPE_CHECKING:
    from tvdesk.store import RunStore

RATE_WINDOW = 120.0
"""Seconds of recent finishes the trials-per-minute rate (and so the ETA) is measured over."""


class GrowingArray:
    """An append-only float array with amortised O(1) appends; `view()` is the filled part
    (a view, not a copy: hand it to a chart without copying 10,000 points every redraw)."""

    __slots__ = ("_data", "_size")

    def __init__(self, capacity: int = 256) -> None:
        self._data = np.empty(max(1, capacity), dtype=float)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, value: float) -> None:
        if self._size == self._data.size:
            grown = np.empty(self._data.size * 2, dtype=float)
            grown[: self._size] = self._data
            self._data = grown
        self._data[self._size] = value
        self._size += 1

    def view(self) -> np.ndarray:
        return self._data[: self._size]


def _number(value: Any) -> float:
    """A metric as a float for a chart: NaN for missing, text and bools (a gap in the line)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return math.nan


@dataclass
class WorkerSeries:
    """One worker's finished trials in order, its best-so-far marks, and its status."""

    worker: int
    x: GrowingArray = field(default_factory=GrowingArray)
    net_profit: GrowingArray = field(default_factory=GrowingArray)
    drawdown: GrowingArray = field(default_factory=GrowingArray)
    trades: GrowingArray = field(default_factory=GrowingArray)
    best_x: list[float] = field(default_factory=list)
    best_y: list[float] = field(default_factory=list)
    best_ids: list[int] = field(default_factory=list)
    current: str = "waiting for its first trial"
    last_error: str | None = None
    finished: int = 0
    errors: int = 0
    version: int = 0
    """Bumped on every change: a view redraws a worker whose version moved."""
    _where: dict[int, tuple[float, float]] = field(default_factory=dict)
    _last: tuple[str | None, float] | None = None

    def add(self, trial_id: int | None, x: float, net: Any, drawdown: Any, trades: Any,
            condition: str | None = None) -> None:
        """Append a finished trial; a new track, or an x lower than the last, first gets a
        gap, so each track is its own stretch of line and no line runs back in x."""
        if self._last is not None and (condition != self._last[0] or x < self._last[1]):
            self._gap(self._last[1])
        if math.isfinite(x):
            self._last = (condition, x)
        net_value = _number(net)
        self.x.append(x)
        self.net_profit.append(net_value)
        self.drawdown.append(_number(drawdown))
        self.trades.append(_number(trades))
        self.finished += 1
        if trial_id is not None:
            self._where[trial_id] = (x, net_value)
        self.version += 1

    def _gap(self, x: float) -> None:
        """A NaN point at `x` (the last drawn x, so the x values stay in order): the line
        breaks there."""
        for array in (self.x, self.net_profit, self.drawdown, self.trades):
            array.append(math.nan if array is not self.x else x)

    def mark_best(self, trial_id: int) -> bool:
        """Mark a trial of this worker as a new best; False when it has no point here."""
        where = self._where.get(trial_id)
        if where is None or trial_id in self.best_ids:
            return False
        self.best_x.append(where[0])
        self.best_y.append(where[1])
        self.best_ids.append(trial_id)
        self.version += 1
        return True

    def status(self) -> str:
        text = f"{self.finished} trials · {self.current}"
        if self.errors:
            text += f" · {self.errors} error{'s' if self.errors != 1 else ''}"
        if self.last_error:
            text += f" · last error: {_short(self.last_error, 160)}"
        return text


@dataclass
class RunProgress:
    """Trials done of the run's budget, trials per minute and the time left."""

    total: int | None = None
    """The planned in-sample trials (`planned_total`), fixed once known; None when unknown."""
    done: int = 0
    finished: bool = False
    first_at: float | None = None
    last_at: float | None = None
    window: float = RATE_WINDOW
    _recent: deque[float] = field(default_factory=deque)
    _session: int = 0
    _skipped: dict[str | None, int] = field(default_factory=dict)
    _shown: int = 0

    def record(self, at: float) -> None:
        """One in-sample trial finished (done or error) at `at` (epoch seconds)."""
        self.done += 1
        self._session += 1
        self.first_at = at if self.first_at is None else min(self.first_at, at)
        self.last_at = at if self.last_at is None else max(self.last_at, at)
        self._recent.append(at)

    def started(self, at: float) -> None:
        """The run (or this session of it) started at `at`: the rate counts from there."""
        self.first_at = at if self.first_at is None else min(self.first_at, at)

    def track_finished(self, iterations: int, max_iterations: int | None,
                       track: str | None = None) -> None:
        """A track stopped after `iterations`: the budget it did not use counts as done by
        skip (the total stays, so the bar never jumps back). A track reported twice (a
        resumed run finishes it again) keeps its latest count."""
        if max_iterations is not None:
            self._skipped[track] = max(0, max_iterations - iterations)

    @property
    def skipped(self) -> int:
        """Trials of the plan not run because their track stopped early."""
        return sum(self._skipped.values())

    def completed(self) -> int:
        """Trials done or skipped, never above the total and never less than shown before:
        what a progress bar shows."""
        value = self.done + self.skipped
        if self.total is not None:
            value = min(value, self.total)
        self._shown = max(self._shown, value)
        return self._shown

    def rate_per_minute(self, now: float) -> float | None:
        """Trials per minute: over the whole run once it is over, else over the last
        `window` seconds (or since the start, if that is more recent)."""
        if self.first_at is None:
            return None
        if self.finished:
            span = (self.last_at or self.first_at) - self.first_at
            return self._session / span * 60.0 if span > 0 and self._session else None
        start = max(self.first_at, now - self.window)
        while self._recent and self._recent[0] < start:
            self._recent.popleft()
        span = now - start
        if span <= 0 or not self._recent:
            return None
        return len(self._recent) / span * 60.0

    def eta_seconds(self, now: float) -> float | None:
        if self.finished or self.total is None:
            return None
        remaining = max(0, self.total - self.completed())
        if remaining == 0:
            return 0.0
        rate = self.rate_per_minute(now)
        return remaining / rate * 60.0 if rate else None

    def text(self, now: float) -> str:
        """'42 / 150 trials · 30 skipped · 12.5 trials/min · ETA 8 min 55 s' ('done' when
        over); "skipped" is the budget of tracks that stopped early."""
        of = f" / {self.total}" if self.total is not None else ""
        parts = [f"{self.done}{of} trials"]
        if self.skipped and self.total is not None:
            parts.append(f"{self.skipped} skipped (tracks stopped early)")
        rate = self.rate_per_minute(now)
        parts.append(f"{rate:.1f} trials/min" if rate is not None else "– trials/min")
        if self.finished:
            parts.append("done")
        else:
            eta = self.eta_seconds(now)
            parts.append(f"ETA {format_duration(eta)}" if eta is not None else "ETA –")
        return " · ".join(parts)


def planned_total(settings: Mapping[str, Any]) -> int | None:
    """The in-sample trials a run plans: `max_iterations` per track, one track per condition
    (one when there are none); None when the settings do not say. A baseline trial counts
    as one of its track's iterations, as the optimiser counts it; holdout evaluations are
    not in-sample trials and are left out (the log reports them)."""
    max_iterations = settings.get("max_iterations")
    if not isinstance(max_iterations, (int, float)) or isinstance(max_iterations, bool) \
            or not max_iterations > 0:
        return None
    return int(max_iterations) * max(1, len(settings.get("conditions") or ()))


def format_duration(seconds: float) -> str:
    """12 s, 8 min 55 s, 2 h 05 min."""
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pct(value: Any, *, signed: bool = True) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "n/a"
    return f"{value:+.2f}%" if signed else f"{value:.2f}%"


def _inputs_text(inputs: Any, limit: int = 120,
                 steps: Mapping[str, float] | None = None) -> str:
    return _short(format_inputs(inputs, steps), limit)


def describe_event(event: Event, steps: Mapping[str, float] | None = None) -> str:
    """One log line for an event: time, where (worker, condition, trial), what happened.
    `steps` (input title -> search step) rounds input values to their step."""
    stamp = datetime.fromtimestamp(event.at).strftime("%H:%M:%S")
    where = []
    if event.worker is not None:
        where.append(f"worker {event.worker}")
    if event.condition is not None:
        where.append(f"cond {event.condition}")
    if event.trial_id is not None:
        where.append(f"#{event.trial_id}")
    p = event.payload
    kind = event.kind
    if kind == "trial_finished":
        what = (f"finished: net {_pct(p.get('net_profit_percent'))} dd "
                f"{_pct(p.get('max_drawdown_percent'), signed=False)} trades "
                f"{p.get('total_trades')}")
        if isinstance(p.get("seconds"), (int, float)):
            what += f" ({p['seconds']:.2f} s)"
        if p.get("targets_met"):
            what += " — targets met"
        elif p.get("potential"):
            what += " — potential"
    elif kind == "trial_started":
        what = f"started: {_inputs_text(p.get('inputs'), steps=steps)}"
    elif kind == "new_best":
        score = p.get("score")
        what = (f"new best (score {score:.4g})" if isinstance(score, (int, float))
                else "new best")
        if _inputs_text(p.get("inputs"), steps=steps):
            what += f": {_inputs_text(p.get('inputs'), steps=steps)}"
    elif kind == "error":
        what = f"error: {_short(p.get('message', ''), 300)}"
    elif kind == "run_started":
        what = "run resumed" if p.get("resumed") else "run started"
    elif kind == "track_finished":  # why the search stopped: the line a user looks for
        what = f"stopped: {p.get('reason') or 'done'} ({p.get('iterations')} trials"
        what += f", best #{p['best_trial']})" if p.get("best_trial") is not None else ")"
    elif kind == "holdout":
        what = (f"holdout of #{p.get('of_trial')}: net {_pct(p.get('net_profit_percent'))} dd "
                f"{_pct(p.get('max_drawdown_percent'), signed=False)}")
    elif kind == "judged" and isinstance(p.get("robustness"), Mapping):
        what = f"judged: {describe_robustness(p['robustness'])}"
    elif kind == "cluster":  # a notice of the Dask cluster, or its workers and throughput
        what = str(p.get("message") or p.get("status") or "")
    elif kind == "stopped":
        what = f"stopped: {p.get('reason') or 'done'}"
        tracks = p.get("tracks")
        if isinstance(tracks, Mapping) and tracks:
            what += " (" + "; ".join(
                f"{'condition ' + str(c) if c not in (None, 'None') else 'track'}: {why}"
                for c, why in tracks.items()) + ")"
    else:
        details = ", ".join(f"{k}={_value(v)}" for k, v in p.items()
                            if v is not None and k not in ("inputs", "workspace"))
        what = kind.replace("_", " ") + (f": {_short(details, 400)}" if details else "")
    head = f"{stamp} {' '.join(where)}".rstrip()
    return f"{head} {what}"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_value(v)}" for k, v in value.items())
    return _short(str(value), 200)


ROBUSTNESS_WORDS: dict[str, str] = {
    "pbo": "PBO", "pbo_splits": "PBO splits", "pbo_degradation_slope": "PBO degradation slope",
    "walk_forward_oos_sharpe": "walk-forward OOS Sharpe",
    "walk_forward_oos_t_stat": "walk-forward OOS t-stat",
    "walk_forward_efficiency": "walk-forward efficiency",
}
"""How the run log names the run-level statistics of the `judged` event."""


def describe_robustness(robustness: Mapping[str, Any]) -> str:
    """The `judged` event's statistics as a sentence, not a dict: 'trials 50 · tags
    NORMAL 18, OVERFIT 20 · PBO 0.896 (16 splits) · ... · inputs that matter most: ATR
    Target 0.35, Band Multiplier 0.31'."""
    parts: list[str] = []
    if isinstance(robustness.get("trials"), int):
        parts.append(f"{robustness['trials']} trials")
    tags = robustness.get("tags")
    if isinstance(tags, Mapping) and tags:
        parts.append("tags " + ", ".join(f"{tag} {count}" for tag, count in
                                         sorted(tags.items(), key=lambda kv: str(kv[0]))))
    if _finite_number(robustness.get("pbo")):
        splits = robustness.get("pbo_splits")
        parts.append(f"PBO {robustness['pbo']:.3g}"
                     + (f" ({splits} splits)" if isinstance(splits, int) else ""))
    importance = {k.split(":", 1)[1].strip(): v for k, v in robustness.items()
                  if isinstance(k, str) and k.startswith("importance:") and _finite_number(v)}
    shown = {"trials", "tags", "pbo", "pbo_splits"}
    for key, value in robustness.items():
        if key in shown or (isinstance(key, str) and key.startswith("importance:")) \
                or value is None:
            continue
        name = ROBUSTNESS_WORDS.get(key, str(key).replace("_", " "))
        parts.append(f"{name} {_value(value)}")
    if importance:
        top = sorted(importance.items(), key=lambda kv: -kv[1])[:5]
        parts.append("inputs that matter most: "
                     + ", ".join(f"{name} {value:.2f}" for name, value in top))
    return " · ".join(parts) if parts else "no statistics"


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


class RunMonitor:
    """Everything the Runs view shows of one run, kept up to date event by event.

    `handle` is O(1) per event (appends, no copies), so a view can call it from the event's
    slot and redraw on a timer. `new_lines` hands out the log lines not yet shown; `workers`
    grows as workers appear.

    Two "bests", each with its own question: `best_trial` is the run's chosen trial, picked
    across tracks as the optimiser and the Surface pick it (meets the targets first, then the
    score of its `new_best` event); `best_net_profit` is the highest net profit among the
    starred trials (`best_net_trial`), which is what the net-profit chart's "run best" line
    marks, so no star ever sits above that line.
    """

    def __init__(self, run_id: str | None = None, *, max_iterations: int | None = None,
                 conditions: Sequence[str] = (), steps: Mapping[str, float] | None = None,
                 total: int | None = None) -> None:
        self.run_id = run_id
        self.max_iterations = max_iterations
        tracks = max(1, len(conditions))
        if total is None and max_iterations:
            total = max_iterations * tracks
        self.progress = RunProgress(total=total)
        self._offsets = {c: i * (max_iterations or 0) for i, c in enumerate(conditions)}
        self.x_span: float | None = float(max_iterations * tracks) if max_iterations else None
        """The x range every worker's chart can fill (iterations × tracks); None: unknown."""
        self.steps: dict[str, float] = dict(steps or {})
        """Each input's search step: values in the log and status lines are rounded to it."""
        self.workers: dict[int, WorkerSeries] = {}
        self.best_trial: int | None = None
        self.best_net_profit: float | None = None
        self.best_net_trial: int | None = None
        self.status = "running"
        self._seen: set[int] = set()
        self._pending: list[str] = []
        self._net_of: dict[int, float] = {}
        self._targets_met: dict[int, bool] = {}
        self._best_key: tuple[bool, float, int] | None = None
        self.events = 0

    @classmethod
    def for_run(cls, store: RunStore | None, run_id: str) -> RunMonitor:
        """An empty monitor sized from the run's settings (a run the store lacks: unsized)."""
        settings: Mapping[str, Any] = {}
        if store is not None:
            try:
                settings = store.get_run(run_id).settings
            except Exception:  # not in this store (yet): progress without a total
                settings = {}
        max_iterations = settings.get("max_iterations")
        return cls(run_id, max_iterations=int(max_iterations) if max_iterations else None,
                   conditions=tuple(str(c) for c in settings.get("conditions") or ()),
                   steps=input_steps(settings), total=planned_total(settings))

    # ------------------------------------------------------------------ live

    def x_of(self, condition: str | None, iteration: Any) -> float:
        """A trial's x: its track's offset plus its iteration. A condition the settings do
        not list takes the next free slot (tracks run one after another)."""
        base = float(iteration) if isinstance(iteration, (int, float)) else math.nan
        if condition is None:
            return base
        if condition not in self._offsets and self.max_iterations:
            self._offsets[condition] = len(self._offsets) * self.max_iterations
        return base + self._offsets.get(condition, 0)

    def worker(self, number: int) -> WorkerSeries:
        series = self.workers.get(number)
        if series is None:
            series = self.workers[number] = WorkerSeries(number)
        return series

    def handle(self, event: Event, *, log: bool = True) -> None:
        self.events += 1
        if log:
            self._pending.append(describe_event(event, self.steps))
        kind, p = event.kind, event.payload
        if kind == "run_started":
            self.status = "running"
            self.progress.finished = False
            self.progress.started(event.at)
        elif kind == "trial_started" and event.worker is not None:
            series = self.worker(event.worker)
            inputs = _inputs_text(p.get("inputs"), 90, self.steps)
            series.current = (f"running #{event.trial_id}: {inputs}"
                              if event.trial_id is not None else "running")
            series.version += 1
        elif kind == "trial_finished" and event.worker is not None:
            series = self.worker(event.worker)
            net = p.get("net_profit_percent")
            if event.trial_id is None or event.trial_id not in self._seen:
                if event.trial_id is not None:
                    self._seen.add(event.trial_id)
                    self._net_of[event.trial_id] = _number(net)
                    self._targets_met[event.trial_id] = bool(p.get("targets_met"))
                series.add(event.trial_id, self.x_of(event.condition, p.get("iteration")),
                           net, p.get("max_drawdown_percent"), p.get("total_trades"),
                           condition=event.condition)
                self.progress.record(event.at)
            series.current = f"idle after #{event.trial_id} (net {_pct(net)})"
        elif kind == "error" and event.worker is not None:
            series = self.worker(event.worker)
            series.errors += 1
            series.last_error = str(p.get("message", ""))
            series.current = f"#{event.trial_id} failed" if event.trial_id is not None else \
                "error"
            series.version += 1
            if event.trial_id is not None and event.trial_id not in self._seen:
                self._seen.add(event.trial_id)
                self.progress.record(event.at)
        elif kind == "new_best" and event.trial_id is not None:
            self._new_best(event.trial_id, event.worker, p.get("score"))
        elif kind == "worker_restarted" and event.worker is not None:
            series = self.worker(event.worker)
            series.current = f"restarted from {p.get('restarted_from')}"
            series.version += 1
        elif kind == "track_finished":
            iterations = p.get("iterations")
            if isinstance(iterations, int):
                self.progress.track_finished(iterations, self.max_iterations, event.condition)
        elif kind == "stopped":
            self.status = "finished" if p.get("reason") == "finished" else "stopped"
            self.progress.finished = True
            for series in self.workers.values():
                series.current = "done" if self.status == "finished" else "stopped"
                series.version += 1

    def _new_best(self, trial_id: int, worker: int | None, score: Any) -> None:
        """A track's new best: the run's chosen trial if it beats the others across tracks
        (targets met, then score; the later on a tie), and a star on its worker's chart."""
        value = _number(score)
        key = (self._targets_met.get(trial_id, False),
               value if math.isfinite(value) else -math.inf, self.events)
        if self._best_key is None or key > self._best_key:
            self._best_key, self.best_trial = key, trial_id
        series = self.workers.get(worker) if worker is not None else None
        if series is None or not series.mark_best(trial_id):
            return
        net = self._net_of.get(trial_id)
        if net is not None and math.isfinite(net) and (
                self.best_net_profit is None or net > self.best_net_profit):
            self.best_net_profit, self.best_net_trial = net, trial_id

    def new_lines(self) -> list[str]:
        """The log lines since the last call."""
        lines, self._pending = self._pending, []
        return lines

    # ------------------------------------------------------------------ from the store

    @classmethod
    def from_store(cls, store: RunStore, run_id: str) -> RunMonitor:
        """The monitor of a stored run: every in-sample trial as a point (x from its
        `trial_finished` event, else its stored iteration), best marks from `new_best`
        events, errors and the log from the stored events."""
        monitor = cls.for_run(store, run_id)
        info = store.get_run(run_id)
        events = [_stored_event(e, run_id) for e in store.events(run_id)]
        finished = [(e.trial_id, e.payload) for e in events
                    if e.kind == "trial_finished" and e.trial_id is not None]
        iteration_of: dict[int, Any] = {tid: p.get("iteration") for tid, p in finished}
        monitor._targets_met.update({tid: bool(p.get("targets_met")) for tid, p in finished})
        trials = [t for t in store.trials(run_id, segment="in_sample")
                  if t.status in ("done", "error")]
        monitor.load(trials, iteration_of)
        for event in events:
            if event.kind in ("trial_finished", "error", "run_started"):
                monitor._pending.append(describe_event(event, monitor.steps))
                if event.kind == "error" and event.worker is not None:
                    series = monitor.worker(event.worker)
                    series.last_error = str(event.payload.get("message", ""))
                continue
            monitor.handle(event)
        if info.status != "running":
            monitor.status = info.status
            monitor.progress.finished = True
            for series in monitor.workers.values():
                series.current = info.status
        return monitor

    def load(self, trials: Iterable[Any], iteration_of: Mapping[int, Any]) -> None:
        """Stored trials (TrialRow) as points and finished counts, in each worker's x order."""
        rows = []
        for trial in trials:
            if trial.id in self._seen:
                continue
            self._seen.add(trial.id)
            at = (trial.finished_at or trial.started_at).timestamp()
            self.progress.record(at)
            self.progress.started(trial.started_at.timestamp())
            if trial.status == "error":
                series = self.worker(trial.worker)
                series.errors += 1
                series.last_error = trial.error
                continue
            iteration = iteration_of.get(trial.id, trial.iteration)
            rows.append((trial.worker, self.x_of(trial.condition, iteration), trial))
        for worker, x, trial in sorted(rows, key=lambda r: (r[0], r[1], r[2].id)):
            m = trial.metrics
            self._net_of[trial.id] = _number(m.get("net_profit_percent"))
            self.worker(worker).add(trial.id, x, m.get("net_profit_percent"),
                                    m.get("max_drawdown_percent"), m.get("total_trades"),
                                    condition=trial.condition)
            self.worker(worker).current = f"idle after #{trial.id}"


def _stored_event(record: Any, run_id: str) -> Event:
    """A stored event (tvdesk.store.Event) as the live Event it was published as."""
    payload = dict(record.payload)
    worker = payload.pop("worker", None)
    condition = payload.pop("condition", None)
    trial_id = payload.pop("trial_id", None)
    return Event(kind=record.kind, run_id=run_id, worker=worker, condition=condition,
                 trial_id=trial_id, payload=payload, at=record.at.timestamp())


def now() -> float:
    """The clock progress is measured on (event times are epoch seconds)."""
    return time.time()


__all__ = [
    "RATE_WINDOW",
    "GrowingArray",
    "RunMonitor",
    "RunProgress",
    "WorkerSeries",
    "describe_event",
    "describe_robustness",
    "format_duration",
    "now",
    "planned_total",
]
