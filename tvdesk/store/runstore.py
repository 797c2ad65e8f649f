"""RunStore: what the optimiser records, and what resume, dedupe and reports read back.

Every method is one short transaction on one connection, guarded by a lock, so a RunStore
can be shared by the threads of one process and called from asyncio code without stalling
the loop. Writes begin IMMEDIATE: the write lock is taken (or waited for, up to the busy
timeout) at the start, never upgraded midway, which is what makes two processes writing the
same file wait for each other instead of failing with "database is locked".

The order of writes is the crash contract: `start_trial` commits a `running` row before the
backtest starts and `finish_trial` commits its outcome before the next one starts. After a
crash, every finished trial is there, and the one that was running is found by
`unfinished_trials` and run again on resume.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from tvdesk.errors import InputError
from tvdesk.model import BacktestResult
from tvdesk.store import records as rec
from tvdesk.store.failures import StoreError, store_failure
from tvdesk.store.lease import RunInUse, RunLease, new_lease
from tvdesk.store.records import (
    ChartRecord,
    Event,
    LlmExchange,
    LlmOutcome,
    ModelStats,
    Proposer,
    RunInfo,
    RunStatus,
    Segment,
    SourceRow,
    TrialRow,
    TrialStatus,
)
from tvdesk.store.schema import SCHEMA_VERSION, connect, connect_read_only

_TRIAL_COLUMNS = (
    "id, run_id, worker, condition, iteration, proposer, source_hash, inputs_json, params_key, "
    "status, metrics_json, tag, reasons_json, error, started_at, finished_at, seconds, segment, "
    "result_json IS NOT NULL AS has_result"
)
_RUN_COLUMNS = "id, created_at, finished_at, status, engine, strategy_title, settings_json"
T = TypeVar("T")
_METRIC_NAME = re.compile(r"^[A-Za-z0-9_.\-%]+$")


class RunStore:
    """The optimiser's SQLite run store. Open with `RunStore.open(path)`; use as a context.

    Unknown run ids raise InputError (they come from users, as in `--resume ID`); unknown
    trial ids and source hashes raise KeyError (they only come from tvdesk itself).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, *,
                 read_only: bool = False) -> None:
        """Use `RunStore.open`; this only wraps an already opened and migrated connection."""
        self.path = path
        self.read_only = read_only
        # Which file this connection has open: one deleted or replaced under a running
        # optimisation would take every later write with it (see _check_file).
        self._identity = None if read_only else _file_identity(path)
        self._conn = conn
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._closed = False

    # ----------------------------------------------------------------------- lifecycle

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, busy_timeout: float = 15.0) -> RunStore:
        """Open the store at `path`, creating it (and its folder) on first use.

        `busy_timeout` is how long, in seconds, a write waits for another process's write.
        Raises InputError naming the file when it is not a run store or is from a newer tvdesk.
        """
        file = Path(path).expanduser()
        return cls(file, connect(file, busy_timeout=busy_timeout))

    @classmethod
    def open_for_reading(cls, path: str | os.PathLike[str], *,
                         busy_timeout: float = 15.0) -> RunStore:
        """Open an existing store to list runs and write reports: normally, or read-only when
        the file or its folder cannot be written (then `read_only` is True and writes fail
        with a StoreError saying so)."""
        file = Path(path).expanduser()
        if not file.exists():
            raise InputError("no run store here (run `tvdesk optimize` first)",
                             source=str(file))
        try:
            return cls(file, connect(file, busy_timeout=busy_timeout))
        except StoreError as exc:
            if exc.kind not in ("read_only", "cannot_open"):
                raise
        return cls(file, connect_read_only(file, busy_timeout=busy_timeout), read_only=True)

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    def close(self) -> None:
        """Close the connection; the last one to close folds the WAL back into the file."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; on any failure it is rolled back (what was committed before
        stays)."""
        with self._lock:
            self._check_file()
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: several SELECTs see one snapshot even while others write."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")


    # ----------------------------------------------------------------------- runs

    def create_run(self, *, engine: str, strategy_title: str, settings: Mapping[str, Any]) -> str:
        """Record a new run with the full settings snapshot `--resume` will continue with.

        The id (`20261124-153012-ab12`) sorts by creation time and is short enough to type.
        A process that goes on to run it uses `start_run`, which also takes its lease.
        """
        rec.refuse_secrets("run settings", settings)
        with self._write() as conn:
            return self._insert_run(conn, engine, strategy_title, settings)

    def start_run(self, *, engine: str, strategy_title: str,
                  settings: Mapping[str, Any]) -> RunLease:
        """`create_run` and take its lease in one transaction: no other process can pick the
        new run up (`--resume latest`) before this one holds it."""
        rec.refuse_secrets("run settings", settings)
        with self._write() as conn:
            run_id = self._insert_run(conn, engine, strategy_title, settings)
            return self._take_lease(conn, run_id)

    def acquire_run(self, run_id: str) -> RunLease:
        """Take the lease of `run_id` for this process before working on it.

        Raises RunInUse naming the holder when a live process holds it; a lease whose holder
        is gone is taken over. Nothing else changes in the store.
        """
        with self._write() as conn:
            self._require_run(conn, run_id)
            holder = self._lease_row(conn, run_id)
            if holder is not None and holder.is_live(rec.utc_now()):
                raise RunInUse(run_id, holder)
            return self._take_lease(conn, run_id)

    def renew_run(self, lease: RunLease) -> bool:
        """Refresh the heartbeat; False when the lease was lost (taken over meanwhile)."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE run_leases SET heartbeat_at = ? WHERE run_id = ? AND token = ?",
                (rec.to_text(rec.utc_now()), lease.run_id, lease.token))
            return cursor.rowcount == 1

    def release_run(self, lease: RunLease) -> None:
        """Give the lease back (only this hold of it: a later holder keeps theirs)."""
        with self._write() as conn:
            conn.execute("DELETE FROM run_leases WHERE run_id = ? AND token = ?",
                         (lease.run_id, lease.token))

    def run_holder(self, run_id: str) -> RunLease | None:
        """The live process working on `run_id`, or None (finished, stopped or orphaned)."""
        with self._read() as conn:
            holder = self._lease_row(conn, run_id)
        return holder if holder is not None and holder.is_live(rec.utc_now()) else None

    def finish_run(self, run_id: str, status: RunStatus) -> None:
        """Mark a run stopped (by the user or a limit), finished, or failed."""
        if status == "running":
            raise ValueError("finish_run needs stopped, finished or failed; use resume_run")
        rec.check_choice("run status", status, rec.RUN_STATUSES)
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.execute("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?",
                         (status, rec.to_text(rec.utc_now()), run_id))

    def resume_run(self, run_id: str) -> RunInfo:
        """Mark a run running again (for `--resume`) and return it with its stored settings."""
        with self._write() as conn:
            self._require_run(conn, run_id)
            conn.execute("UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?",
                         (run_id,))
            self._insert_event(conn, run_id, "resumed", {})
            return self._run_row(conn, run_id)

    def get_run(self, run_id: str) -> RunInfo:
        with self._read() as conn:
            return self._run_row(conn, run_id)

    def latest_run_id(self) -> str | None:
        """The most recently created run: what `--resume` without an id continues."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1").fetchone()
        return None if row is None else str(row["id"])

    def list_runs(self) -> list[RunInfo]:
        """All runs, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY created_at DESC, rowid DESC"
            ).fetchall()
        return [_run_info(row) for row in rows]

    # ----------------------------------------------------------------------- sources

    def add_source(self, pine: str, *, normalized_hash: str,
                   parent_hash: str | None = None) -> str:
        """Store a Pine text once and return its hash; adding it again changes nothing.

        `normalized_hash` identifies the text up to formatting, so that an LLM rewrite that only
        reflows the baseline is recognised (`has_normalized`) and not backtested again.
        `parent_hash` is the source it was rewritten from, and must already be stored.
        """
        digest = rec.source_hash(pine)
        with self._write() as conn:
            if parent_hash is not None and conn.execute(
                    "SELECT 1 FROM sources WHERE hash = ?", (parent_hash,)).fetchone() is None:
                raise KeyError(f"parent source {parent_hash} is not in the run store")
            conn.execute(
                "INSERT OR IGNORE INTO sources (hash, normalized_hash, pine, parent_hash,"
                " created_at) VALUES (?, ?, ?, ?, ?)",
                (digest, normalized_hash, pine, parent_hash, rec.to_text(rec.utc_now())))
        return digest

    def get_source(self, source_hash: str) -> str:
        return self.source(source_hash).pine

    def source(self, source_hash: str) -> SourceRow:
        """The stored source with its lineage fields."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT hash, normalized_hash, pine, parent_hash, created_at FROM sources"
                " WHERE hash = ?", (source_hash,)).fetchone()
        if row is None:
            raise KeyError(f"source {source_hash} is not in the run store")
        return _source_row(row)

    def has_normalized(self, normalized_hash: str) -> bool:
        with self._read() as conn:
            row = conn.execute("SELECT 1 FROM sources WHERE normalized_hash = ? LIMIT 1",
                                     (normalized_hash,)).fetchone()
        return row is not None

    # ----------------------------------------------------------------------- trials

    def start_trial(self, run_id: str, *, worker: int, condition: str | None, iteration: int,
                    proposer: Proposer, source_hash: str, inputs: Mapping[str, Any],
                    segment: Segment = "in_sample") -> int:
        """Commit a `running` trial before its backtest starts; returns the trial id.

        Committing first is what lets resume find the trial a crash interrupted.
        """
        rec.check_choice("proposer", proposer, rec.PROPOSERS)
        rec.check_choice("segment", segment, rec.SEGMENTS)
        inputs_json = rec.canonical_inputs(inputs)
        key = rec.params_key(source_hash, inputs)
        with self._write() as conn:
            self._require_run(conn, run_id)
            if conn.execute("SELECT 1 FROM sources WHERE hash = ?",
                            (source_hash,)).fetchone() is None:
                raise KeyError(f"source {source_hash} is not in the run store; add_source first")
            cursor = conn.execute(
                "INSERT INTO trials (run_id, worker, condition, iteration, proposer, source_hash,"
                " inputs_json, params_key, status, started_at, segment)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                (run_id, worker, condition, iteration, proposer, source_hash, inputs_json, key,
                 rec.to_text(rec.utc_now()), segment))
            trial_id = cursor.lastrowid
        assert trial_id is not None
        return trial_id

    def finish_trial(self, trial_id: int, *, result: BacktestResult | None = None,
                     metrics: Mapping[str, Any] | None = None, tag: str | None = None,
                     reasons: Iterable[str] = (), error: str | None = None,
                     status: TrialStatus = "done", keep_result: bool = True,
                     daily_returns: tuple[list[str], list[float]] | None = None,
                     seconds: float | None = None,
                     charts: Sequence[ChartRecord] = ()) -> None:
        """Record a trial's outcome in one transaction, committed before the next trial starts.

        `metrics` defaults to the result's metrics. With `keep_result` the result document is
        stored without its equity curve (trades included) for reports. `daily_returns` is the
        (dates YYYY-MM-DD, returns) calendar PBO/DSR need. `seconds` defaults to the time since
        `start_trial`. An `error` needs status "error". `charts`: a watchlist trial's result
        on each chart, written in the same transaction as the trial's aggregate.
        """
        if status == "running":
            raise ValueError("finish_trial needs status done, error or pruned")
        rec.check_choice("trial status", status, rec.TRIAL_STATUSES)
        if error is not None and status != "error":
            raise ValueError(f"trial {trial_id}: an error was given but status is {status!r}")
        if metrics is None:
            metrics = dict(result.metrics) if result is not None else {}
        metrics_json = rec.dumps(metrics)
        reasons_json = rec.dumps(list(reasons))
        result_json = (rec.dumps(result.to_dict(include_equity=False))
                       if keep_result and result is not None else None)
        packed = rec.pack_daily(*daily_returns) if daily_returns is not None else None
        with self._write() as conn:
            row = conn.execute("SELECT status, started_at FROM trials WHERE id = ?",
                               (trial_id,)).fetchone()
            if row is None:
                raise KeyError(f"trial {trial_id} is not in the run store")
            if row["status"] != "running":
                raise ValueError(f"trial {trial_id} is already finished ({row['status']})")
            now = rec.utc_now()
            if seconds is None:
                started = rec.from_text(row["started_at"])
                assert started is not None
                seconds = (now - started).total_seconds()
            conn.execute(
                "UPDATE trials SET status = ?, metrics_json = ?, tag = ?, reasons_json = ?,"
                " error = ?, finished_at = ?, seconds = ?, result_json = ? WHERE id = ?",
                (status, metrics_json, tag, reasons_json, error, rec.to_text(now), seconds,
                 result_json, trial_id))
            if packed is not None:
                conn.execute("INSERT OR REPLACE INTO daily_returns (trial_id, n, days, returns)"
                             " VALUES (?, ?, ?, ?)", (trial_id, *packed))
            conn.executemany(
                "INSERT OR REPLACE INTO chart_results (trial_id, position, chart, chart_json,"
                " metrics_json, result_json, equity_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(trial_id, i, c.label, rec.dumps(c.chart), rec.dumps(c.metrics),
                  rec.dumps(c.result) if c.result is not None else None,
                  rec.dumps(c.equity) if c.equity is not None else None)
                 for i, c in enumerate(charts)])

    def set_tags(self, tags: Iterable[tuple[int, str, Sequence[str]]]) -> int:
        """Write quality tags and their reasons for finished trials, in one transaction.

        Tags are judged after the search (they need every trial's returns), so they are
        written here rather than by `finish_trial`; returns how many rows changed.
        """
        rows = [(tag, rec.dumps(list(reasons)), trial_id) for trial_id, tag, reasons in tags]
        with self._write() as conn:
            cursor = conn.executemany(
                "UPDATE trials SET tag = ?, reasons_json = ? WHERE id = ? AND status = 'done'",
                rows)
            return cursor.rowcount

    def trial(self, trial_id: int) -> TrialRow:
        with self._read() as conn:
            row = conn.execute(f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE id = ?",
                                     (trial_id,)).fetchone()
        if row is None:
            raise KeyError(f"trial {trial_id} is not in the run store")
        return _trial_row(row)

    def find_done_trial(self, run_id: str, source_hash: str, inputs: Mapping[str, Any], *,
                        segment: Segment = "in_sample",
                        condition: str | None = None) -> TrialRow | None:
        """The finished trial of this run with the same source and inputs, if there is one.

        This is the dedupe: a parameter set already run for a source is answered from the
        store instead of being backtested again. Key order of `inputs` does not matter. Pass
        `condition` when the condition is not one of the inputs; None matches any.
        """
        key = rec.params_key(source_hash, inputs)
        sql = (f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE run_id = ? AND params_key = ?"
               " AND status = 'done' AND segment = ?")
        args: list[Any] = [run_id, key, segment]
        if condition is not None:
            sql += " AND condition = ?"
            args.append(condition)
        with self._read() as conn:
            row = conn.execute(sql + " ORDER BY id LIMIT 1", args).fetchone()
        return None if row is None else _trial_row(row)

    def count_trials(self, run_id: str, *, condition: str | None = None,
                     status: TrialStatus | None = None, segment: Segment | None = None) -> int:
        """How many trials match; each filter left None matches everything."""
        where, args = _trial_filter(run_id, condition=condition, status=status, segment=segment)
        with self._read() as conn:
            row = conn.execute(f"SELECT count(*) FROM trials WHERE {where}",
                                     args).fetchone()
        return int(row[0])

    def unfinished_trials(self, run_id: str) -> list[TrialRow]:
        """Trials still `running`: after a crash, the ones that were interrupted."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE run_id = ? AND status = 'running'"
                " ORDER BY id", (run_id,)).fetchall()
        return [_trial_row(row) for row in rows]

    def reset_unfinished(self, run_id: str) -> int:
        """Delete the interrupted trials so that resume runs them again; returns how many.

        They hold no outcome, so nothing is lost; a `reset_unfinished` event keeps their ids.
        Call it only when no process is still working on the run.
        """
        with self._write() as conn:
            ids = [row[0] for row in conn.execute(
                "SELECT id FROM trials WHERE run_id = ? AND status = 'running' ORDER BY id",
                (run_id,))]
            if ids:
                conn.executemany("DELETE FROM trials WHERE id = ?", [(i,) for i in ids])
                self._insert_event(conn, run_id, "reset_unfinished", {"trial_ids": ids})
        return len(ids)

    def trials(self, run_id: str, *, condition: str | None = None,
               segment: Segment | None = None,
               status: TrialStatus | None = None) -> list[TrialRow]:
        """The run's trials in the order they started; filters left None match everything."""
        where, args = _trial_filter(run_id, condition=condition, status=status, segment=segment)
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE {where} ORDER BY id", args).fetchall()
        return [_trial_row(row) for row in rows]

    def trial_result(self, trial_id: int) -> BacktestResult | None:
        """The kept result (no equity curve), or None when it was not kept."""
        with self._read() as conn:
            row = conn.execute("SELECT result_json FROM trials WHERE id = ?",
                                     (trial_id,)).fetchone()
        if row is None:
            raise KeyError(f"trial {trial_id} is not in the run store")
        text = row["result_json"]
        return None if text is None else BacktestResult.from_dict(json.loads(text))

    def chart_results(self, trial_id: int) -> list[ChartRecord]:
        """A watchlist trial's per-chart results, in the watchlist's order (empty for a
        one-chart trial)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT chart, chart_json, metrics_json, result_json, equity_json"
                " FROM chart_results WHERE trial_id = ? ORDER BY position",
                (trial_id,)).fetchall()
        return [_chart_record(row) for row in rows]

    def daily_returns(self, run_id: str, *, segment: Segment | None = None,
                      condition: str | None = None,
                      ) -> dict[int, tuple[list[str], list[float]]]:
        """Trial id -> (dates, daily returns), for the overfitting statistics (PBO, DSR)."""
        where, args = _trial_filter(run_id, condition=condition, status=None, segment=segment,
                                    alias="t.")
        with self._read() as conn:
            rows = conn.execute(
                "SELECT d.trial_id, d.n, d.days, d.returns FROM daily_returns d"
                f" JOIN trials t ON t.id = d.trial_id WHERE {where} ORDER BY d.trial_id",
                args).fetchall()
        return {int(r["trial_id"]): rec.unpack_daily(r["n"], r["days"], r["returns"])
                for r in rows}

    def trial_daily_returns(self, trial_id: int) -> tuple[list[str], list[float]] | None:
        """(dates, daily returns) kept for one trial, or None when none were kept.

        One row instead of `daily_returns`' whole run, whose decoding takes seconds on a big
        run: the trial view rebuilds one trial's equity from it. A damaged row raises
        `struct.error` (or ValueError) from the decoder.
        """
        with self._read() as conn:
            row = conn.execute("SELECT n, days, returns FROM daily_returns WHERE trial_id = ?",
                               (trial_id,)).fetchone()
        return None if row is None else rec.unpack_daily(row["n"], row["days"], row["returns"])

    def best_trial(self, run_id: str, metric: str, *, maximize: bool = True,
                   condition: str | None = None,
                   segment: Segment = "in_sample") -> TrialRow | None:
        """The finished trial with the best value of `metric`; ties go to the earliest.

        Trials where the metric is missing or undefined (null) are never best.
        """
        if not _METRIC_NAME.match(metric):
            raise ValueError(f"not a metric name: {metric!r}")
        path = f'$."{metric}"'
        where, args = _trial_filter(run_id, condition=condition, status="done", segment=segment)
        order = "DESC" if maximize else "ASC"
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE {where}"
                " AND json_type(metrics_json, ?) IN ('integer', 'real')"
                f" ORDER BY json_extract(metrics_json, ?) {order}, id LIMIT 1",
                [*args, path, path]).fetchone()
        return None if row is None else _trial_row(row)

    # ----------------------------------------------------------------------- events

    def add_event(self, run_id: str, kind: str, payload: Mapping[str, Any]) -> int:
        """Log something that happened in the run (for the GUI's timeline and post-mortems)."""
        rec.refuse_secrets(f"event {kind}", payload)
        with self._write() as conn:
            self._require_run(conn, run_id)
            return self._insert_event(conn, run_id, kind, payload)

    def events(self, run_id: str, *, kind: str | None = None) -> list[Event]:
        sql = "SELECT id, run_id, at, kind, payload_json FROM events WHERE run_id = ?"
        args: list[Any] = [run_id]
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
        return [_event(row) for row in rows]

    # ----------------------------------------------------------------------- LLM

    def add_llm_exchange(self, run_id: str, *, model: str, prompt: str, reply: str | None,
                         latency: float | None, outcome: LlmOutcome, worker: int | None = None,
                         trial_id: int | None = None, error: str | None = None) -> int:
        """Keep a prompt and its reply: to audit rewrites and to rank models for `--model auto`.

        Only the conversation is stored; credentials never pass through this API.
        """
        rec.check_choice("LLM outcome", outcome, rec.LLM_OUTCOMES)
        with self._write() as conn:
            self._require_run(conn, run_id)
            cursor = conn.execute(
                "INSERT INTO llm_exchanges (run_id, trial_id, worker, model, prompt, reply,"
                " latency, outcome, created_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, trial_id, worker, model, prompt, reply, latency, outcome,
                 rec.to_text(rec.utc_now()), error))
            exchange_id = cursor.lastrowid
        assert exchange_id is not None
        return exchange_id

    def llm_exchanges(self, run_id: str) -> list[LlmExchange]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, run_id, trial_id, worker, model, prompt, reply, latency, outcome,"
                " created_at, error FROM llm_exchanges WHERE run_id = ? ORDER BY id",
                (run_id,)).fetchall()
        return [_llm_exchange(row) for row in rows]

    def count_llm_exchanges(self, run_id: str) -> int:
        """How many LLM requests the run has recorded (what a resumed run's budget starts at)."""
        with self._read() as conn:
            row = conn.execute("SELECT count(*) FROM llm_exchanges WHERE run_id = ?",
                               (run_id,)).fetchone()
        return int(row[0])

    def llm_model_stats(self, run_id: str) -> dict[str, ModelStats]:
        """Per model: (attempts, successes = outcome ok, mean latency of timed attempts)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT model, count(*) AS attempts,"
                " sum(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END) AS successes,"
                " avg(latency) AS mean_latency"
                " FROM llm_exchanges WHERE run_id = ? GROUP BY model ORDER BY model",
                (run_id,)).fetchall()
        return {row["model"]: ModelStats(int(row["attempts"]), int(row["successes"]),
                                         row["mean_latency"]) for row in rows}

    # ----------------------------------------------------------------------- export

    def export_json(self, run_id: str, *, include_llm: bool = False) -> dict[str, Any]:
        """A JSON-ready snapshot of a run: info, sources (with lineage), trials, events.

        Trials carry their kept result documents. LLM prompts and replies are large and
        only included on request.
        """
        with self._read() as conn:
            run = self._run_row(conn, run_id)
            sources = conn.execute(
                "WITH RECURSIVE lineage (hash) AS ("
                " SELECT source_hash FROM trials WHERE run_id = ?"
                " UNION SELECT s.parent_hash FROM sources s JOIN lineage l ON s.hash = l.hash"
                " WHERE s.parent_hash IS NOT NULL)"
                " SELECT hash, normalized_hash, pine, parent_hash, created_at FROM sources"
                " WHERE hash IN (SELECT hash FROM lineage) ORDER BY created_at, hash",
                (run_id,)).fetchall()
            trial_rows = conn.execute(
                f"SELECT {_TRIAL_COLUMNS}, result_json FROM trials WHERE run_id = ?"
                " ORDER BY id", (run_id,)).fetchall()
            event_rows = conn.execute(
                "SELECT id, run_id, at, kind, payload_json FROM events WHERE run_id = ?"
                " ORDER BY id", (run_id,)).fetchall()
            chart_rows = conn.execute(
                "SELECT c.trial_id, c.chart, c.chart_json, c.metrics_json, c.result_json,"
                " c.equity_json FROM chart_results c JOIN trials t ON t.id = c.trial_id"
                " WHERE t.run_id = ? ORDER BY c.trial_id, c.position", (run_id,)).fetchall()
        charts: dict[int, list[dict[str, Any]]] = {}
        for row in chart_rows:
            charts.setdefault(row["trial_id"], []).append(_chart_record(row).to_dict())
        trials = []
        for row in trial_rows:
            item = _trial_row(row).to_dict()
            item["result"] = None if row["result_json"] is None else json.loads(row["result_json"])
            if row["id"] in charts:  # a watchlist trial: its result on each chart
                item["charts"] = charts[row["id"]]
            trials.append(item)
        document: dict[str, Any] = {
            "format": "tvdesk.run",
            "schema_version": SCHEMA_VERSION,
            "run": run.to_dict(),
            "sources": [_source_row(row).to_dict() for row in sources],
            "trials": trials,
            "events": [_event(row).to_dict() for row in event_rows],
        }
        if include_llm:
            document["llm_exchanges"] = [x.to_dict() for x in self.llm_exchanges(run_id)]
        return document

    # ----------------------------------------------------------------------- internals

    def _check_file(self) -> None:
        """Before a write: is the path still the file this connection has open?

        A store deleted (or replaced) while a run uses it keeps working through the open
        connection, into a file no one can open again: every trial from then on would vanish
        when the process ends. So the first write after that writes the whole store back
        (SQLite's online backup) and stops the run with a message saying where it is.
        """
        if self._identity is None or _file_identity(self.path) == self._identity:
            return
        self._identity = None  # written back once; later writes (closing the run) go on
        target = self.path
        if target.exists():  # replaced by another file: keep that one, write beside it
            target = target.with_name(f"{target.stem}.recovered{target.suffix}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(target)) as copy:
                self._conn.backup(copy)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"the run store was deleted or replaced while in use, and could "
                             f"not be written back ({exc}); what this run stored is lost when "
                             "it ends", path=str(self.path), kind="vanished") from None
        resume = "tvdesk optimize --resume latest" + (
            "" if target == self.path else f" --store {target}")
        raise StoreError(f"the run store was deleted or replaced while in use; everything it "
                         f"held was written back to {target}. Continue with `{resume}`",
                         path=str(self.path), kind="vanished")

    @staticmethod
    def _insert_run(conn: sqlite3.Connection, engine: str, strategy_title: str,
                    settings: Mapping[str, Any]) -> str:
        settings_json = rec.dumps(settings)
        now = rec.utc_now()
        for _attempt in range(20):
            run_id = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
            if not conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                break
        else:  # pragma: no cover - 20 collisions among 65536 suffixes in one second
            raise RuntimeError("could not find a free run id")
        conn.execute(
            "INSERT INTO runs (id, created_at, finished_at, status, engine, strategy_title,"
            " settings_json) VALUES (?, ?, NULL, 'running', ?, ?, ?)",
            (run_id, rec.to_text(now), engine, strategy_title, settings_json))
        return run_id

    @staticmethod
    def _take_lease(conn: sqlite3.Connection, run_id: str) -> RunLease:
        lease = new_lease(run_id, rec.utc_now())
        conn.execute(
            "INSERT OR REPLACE INTO run_leases (run_id, token, host, machine, pid,"
            " process_started, since, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, lease.token, lease.host, lease.machine, lease.pid, lease.process_started,
             rec.to_text(lease.since), rec.to_text(lease.heartbeat_at)))
        return lease

    @staticmethod
    def _lease_row(conn: sqlite3.Connection, run_id: str) -> RunLease | None:
        row = conn.execute(
            "SELECT run_id, token, host, machine, pid, process_started, since, heartbeat_at"
            " FROM run_leases WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        since, beat = rec.from_text(row["since"]), rec.from_text(row["heartbeat_at"])
        assert since is not None and beat is not None
        return RunLease(run_id=row["run_id"], token=row["token"], host=row["host"],
                        machine=row["machine"], pid=int(row["pid"]),
                        process_started=row["process_started"], since=since,
                        heartbeat_at=beat)

    def _require_run(self, conn: sqlite3.Connection, run_id: str) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise InputError(f"no run {run_id!r} in this run store", source=str(self.path))

    def _run_row(self, conn: sqlite3.Connection, run_id: str) -> RunInfo:
        row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?",
                           (run_id,)).fetchone()
        if row is None:
            raise InputError(f"no run {run_id!r} in this run store", source=str(self.path))
        return _run_info(row)

    @staticmethod
    def _insert_event(conn: sqlite3.Connection, run_id: str, kind: str,
                      payload: Mapping[str, Any]) -> int:
        cursor = conn.execute(
            "INSERT INTO events (run_id, at, kind, payload_json) VALUES (?, ?, ?, ?)",
            (run_id, rec.to_text(rec.utc_now()), kind, rec.dumps(payload)))
        assert cursor.lastrowid is not None
        return cursor.lastrowid


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def guarded(self: RunStore, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, json.JSONDecodeError) as exc:  # a JSON column of a damaged page
            raise store_failure(exc, str(self.path)) from None

    return guarded


# Every public method turns a failing file (full disk, damage, read-only) into a StoreError
# that names it and says what to do, instead of an sqlite3 traceback.
for _name, _member in list(vars(RunStore).items()):
    if not _name.startswith("_") and inspect.isfunction(_member):
        setattr(RunStore, _name, _guarded(_member))


def _trial_filter(run_id: str, *, condition: str | None, status: str | None,
                  segment: str | None, alias: str = "") -> tuple[str, list[Any]]:
    clauses = [f"{alias}run_id = ?"]
    args: list[Any] = [run_id]
    for column, value in (("condition", condition), ("status", status), ("segment", segment)):
        if value is not None:
            clauses.append(f"{alias}{column} = ?")
            args.append(value)
    return " AND ".join(clauses), args


def _run_info(row: sqlite3.Row) -> RunInfo:
    created = rec.from_text(row["created_at"])
    assert created is not None
    return RunInfo(id=row["id"], created_at=created,
                   finished_at=rec.from_text(row["finished_at"]), status=row["status"],
                   engine=row["engine"], strategy_title=row["strategy_title"],
                   settings=json.loads(row["settings_json"]))


def _trial_row(row: sqlite3.Row) -> TrialRow:
    started = rec.from_text(row["started_at"])
    assert started is not None
    return TrialRow(
        id=int(row["id"]), run_id=row["run_id"], worker=int(row["worker"]),
        condition=row["condition"], iteration=int(row["iteration"]), proposer=row["proposer"],
        source_hash=row["source_hash"], inputs=json.loads(row["inputs_json"]),
        params_key=row["params_key"], status=row["status"],
        metrics=json.loads(row["metrics_json"]) if row["metrics_json"] else {},
        tag=row["tag"],
        reasons=tuple(json.loads(row["reasons_json"])) if row["reasons_json"] else (),
        error=row["error"], started_at=started, finished_at=rec.from_text(row["finished_at"]),
        seconds=row["seconds"], segment=row["segment"], has_result=bool(row["has_result"]))


def _source_row(row: sqlite3.Row) -> SourceRow:
    created = rec.from_text(row["created_at"])
    assert created is not None
    return SourceRow(hash=row["hash"], normalized_hash=row["normalized_hash"], pine=row["pine"],
                     parent_hash=row["parent_hash"], created_at=created)


def _event(row: sqlite3.Row) -> Event:
    at = rec.from_text(row["at"])
    assert at is not None
    return Event(id=int(row["id"]), run_id=row["run_id"], at=at, kind=row["kind"],
                 payload=json.loads(row["payload_json"]))


def _llm_exchange(row: sqlite3.Row) -> LlmExchange:
    created = rec.from_text(row["created_at"])
    assert created is not None
    return LlmExchange(id=int(row["id"]), run_id=row["run_id"], trial_id=row["trial_id"],
                       worker=row["worker"], model=row["model"], prompt=row["prompt"],
                       reply=row["reply"], latency=row["latency"], outcome=row["outcome"],
                       created_at=created, error=row["error"])


def _chart_record(row: sqlite3.Row) -> ChartRecord:
    return ChartRecord(label=row["chart"], chart=json.loads(row["chart_json"]),
                       metrics=json.loads(row["metrics_json"]),
                       result=json.loads(row["result_json"]) if row["result_json"] else None,
                       equity=json.loads(row["equity_json"]) if row["equity_json"] else None)
