"""The run store: every method round-trips, crashes and concurrent writers leave it whole.

All tests use real SQLite files under tmp_path; the crash and concurrency tests use real
processes (a child killed with SIGKILL, two children writing at once).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tvdesk.errors import InputError
from tvdesk.model import BacktestResult, EquityCurve, FrozenMap, Trade
from tvdesk.store import SCHEMA_VERSION, ModelStats, RunStore, default_store_path, params_key
from tvdesk.store import schema as store_schema

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PINE = '//@version=6\nstrategy("Cross")\nfast = input.int(9, "Fast")\nplot(close)\n'
REWRITE = PINE.replace("plot(close)", "plot(open)")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore.open(tmp_path / "runs.sqlite") as opened:
        yield opened


def new_run(store: RunStore, **settings: Any) -> tuple[str, str]:
    run_id = store.create_run(engine="local", strategy_title="Cross",
                              settings={"trials": 100, **settings})
    source = store.add_source(PINE, normalized_hash="norm-base")
    return run_id, source


def start(store: RunStore, run_id: str, source: str, inputs: dict[str, Any], *,
          condition: str | None = None, segment: Any = "in_sample", worker: int = 0) -> int:
    return store.start_trial(run_id, worker=worker, condition=condition, iteration=0,
                             proposer="params", source_hash=source, inputs=inputs,
                             segment=segment)


def sample_result(profit: float = 120.5) -> BacktestResult:
    entry = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
    trade = Trade(number=1, side="long", entry_time=entry, entry_price=100.0, qty=2.0,
                  exit_time=datetime(2024, 3, 4, 9, 0, tzinfo=UTC), exit_price=160.25,
                  profit=profit, entry_signal="L", exit_signal="X", entry_bar=3, exit_bar=9)
    return BacktestResult(
        source="local",
        metrics=FrozenMap({"net_profit": profit, "profit_factor": float("nan"),
                           "total_closed_trades": 1}),
        trades=(trade,),
        properties=FrozenMap({"initial_capital": 10000.0}),
        equity_curve=EquityCurve(times=(1, 2), equity=(10000.0, 10120.5)),
        warnings=("mintick derived from data",),
    )


def run_child(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_for(condition: Any, what: str) -> None:
    """Poll until `condition()`; the limit only keeps a broken test from hanging CI."""
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.005)


# --------------------------------------------------------------------------- file


def test_open_creates_file_and_folder_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "runs.sqlite"
    with RunStore.open(path) as store:
        assert path.is_file()
        conn = store._conn
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 15000
        assert store.schema_version == SCHEMA_VERSION == 5
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA application_id").fetchone()[0] == store_schema.APPLICATION_ID
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
    RunStore.open(path).close()  # reopening an up-to-date file is fine


def test_default_path_is_in_the_data_folder(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TVDESK_HOME", str(tmp_path))
    assert default_store_path() == tmp_path / "data" / "runs.sqlite"


def test_non_sqlite_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database\n" * 20)
    with pytest.raises(InputError) as caught:
        RunStore.open(path)
    assert str(path) in str(caught.value) and "not an SQLite" in str(caught.value)
    assert caught.value.exit_code == 2
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(InputError, match="is a folder"):
        RunStore.open(folder)


def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE contacts (name TEXT)")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(InputError) as caught:
        RunStore.open(path)
    assert str(path) in str(caught.value) and "not a run store" in str(caught.value)
    assert path.read_bytes() == before


def test_newer_schema_is_refused_naming_file_and_versions(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    RunStore.open(path).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 7")
    raw.close()
    with pytest.raises(InputError) as caught:
        RunStore.open(path)
    message = str(caught.value)
    assert str(path) in message
    assert "version 7" in message and f"version {SCHEMA_VERSION}" in message


def test_version_1_file_is_migrated_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    raw = sqlite3.connect(path)  # a file as tvdesk with schema 1 left it, rollback journal
    for statement in store_schema.MIGRATIONS[0]:
        raw.execute(statement)
    raw.execute("INSERT INTO runs VALUES ('20250101-000000-abcd', '2025-01-01T00:00:00.000000"
                "+00:00', NULL, 'stopped', 'local', 'Old', '{\"trials\":5}')")
    raw.execute("INSERT INTO sources VALUES ('s1', 'n1', 'pine', NULL, '2025-01-01T00:00:00"
                ".000000+00:00')")
    raw.execute("INSERT INTO trials (run_id, worker, iteration, proposer, source_hash,"
                " inputs_json, params_key, status, metrics_json, started_at) VALUES"
                " ('20250101-000000-abcd', 0, 0, 'params', 's1', '{\"a\":1}', ?, 'done',"
                " '{\"net_profit\":5}', '2025-01-01T00:00:01.000000+00:00')",
                (params_key("s1", {"a": 1}),))
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()

    with RunStore.open(path) as store:
        run = store.get_run("20250101-000000-abcd")
        assert run.settings == {"trials": 5} and run.status == "stopped"
        found = store.find_done_trial(run.id, "s1", {"a": 1})
        assert found is not None and found.metrics == {"net_profit": 5}
        store.add_llm_exchange(run.id, model="m", prompt="p", reply="r", latency=1.0,
                               outcome="ok")  # the table version 2 added
        assert len(store.llm_exchanges(run.id)) == 1
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_migrations_may_be_functions_and_a_failing_one_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "runs.sqlite"
    RunStore.open(path).close()

    def add_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN note TEXT")

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE runs ADD COLUMN other TEXT")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(store_schema, "MIGRATIONS", (*store_schema.MIGRATIONS, broken))
    monkeypatch.setattr(store_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(RuntimeError, match="migration bug"):
        RunStore.open(path)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    columns = [row[1] for row in raw.execute("PRAGMA table_info(runs)")]
    raw.close()
    assert "other" not in columns

    monkeypatch.setattr(store_schema, "MIGRATIONS", (*store_schema.MIGRATIONS[:-1], add_column))
    RunStore.open(path).close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert "note" in [row[1] for row in raw.execute("PRAGMA table_info(runs)")]
    raw.close()


# --------------------------------------------------------------------------- runs and sources


def test_runs_round_trip(store: RunStore) -> None:
    assert store.latest_run_id() is None and store.list_runs() == []
    settings = {"trials": 100, "targets": {"max_drawdown": 15.5}, "from": datetime(2024, 1, 1),
                "symbols": ("EURUSD",), "data": Path("/data/eurusd.csv")}
    first = store.create_run(engine="local", strategy_title="Cross", settings=settings)
    second = store.create_run(engine="tradingview", strategy_title="Other", settings={})
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", first)
    run = store.get_run(first)
    assert (run.id, run.status, run.engine, run.strategy_title) == (first, "running", "local",
                                                                    "Cross")
    assert run.finished_at is None and run.created_at.tzinfo is not None
    assert run.settings == {"trials": 100, "targets": {"max_drawdown": 15.5},
                            "from": "2024-01-01T00:00:00", "symbols": ["EURUSD"],
                            "data": "/data/eurusd.csv"}
    assert store.latest_run_id() == second
    assert [r.id for r in store.list_runs()] == [second, first]

    store.finish_run(first, "stopped")
    stopped = store.get_run(first)
    assert stopped.status == "stopped" and stopped.finished_at is not None
    resumed = store.resume_run(first)
    assert resumed.status == "running" and resumed.finished_at is None
    assert resumed.settings == run.settings
    assert [e.kind for e in store.events(first)] == ["resumed"]
    store.finish_run(first, "finished")
    assert store.get_run(first).status == "finished"

    with pytest.raises(InputError) as caught:
        store.get_run("20990101-000000-zzzz")
    assert "20990101-000000-zzzz" in str(caught.value) and str(store.path) in str(caught.value)
    with pytest.raises(ValueError):
        store.finish_run(first, "running")
    with pytest.raises(ValueError):
        store.finish_run(first, "exploded")  # type: ignore[arg-type]


def test_sources_round_trip_with_lineage(store: RunStore) -> None:
    base = store.add_source(PINE, normalized_hash="norm-base")
    assert base == hashlib.sha256(PINE.encode()).hexdigest()[:32]
    assert store.add_source(PINE, normalized_hash="norm-base") == base  # idempotent
    child = store.add_source(REWRITE, normalized_hash="norm-child", parent_hash=base)
    assert store.get_source(base) == PINE and store.get_source(child) == REWRITE
    assert store.source(child).parent_hash == base
    assert store.source(base).parent_hash is None
    assert store.has_normalized("norm-child") and not store.has_normalized("norm-other")
    with pytest.raises(KeyError):
        store.get_source("0" * 32)
    with pytest.raises(KeyError):
        store.add_source("x", normalized_hash="n", parent_hash="f" * 32)


# --------------------------------------------------------------------------- trials


def test_trial_round_trip_with_result_and_daily_returns(store: RunStore) -> None:
    run_id, source = new_run(store)
    result = sample_result()
    trial_id = store.start_trial(run_id, worker=3, condition="2", iteration=7, proposer="llm",
                                 source_hash=source, inputs={"Fast": 9, "Mode": "ema"},
                                 segment="holdout")
    running = store.trial(trial_id)
    assert running.status == "running" and running.finished_at is None
    assert not running.has_result and running.metrics == {}
    days = (["2024-03-01", "2024-03-04", "2024-03-05"], [0.0125, -0.003, 0.0])
    store.finish_trial(trial_id, result=result, tag="robust", reasons=["pf ok", "dd ok"],
                       daily_returns=days)

    row = store.trial(trial_id)
    assert (row.run_id, row.worker, row.condition, row.iteration, row.proposer) == (
        run_id, 3, "2", 7, "llm")
    assert row.source_hash == source and row.segment == "holdout"
    assert row.inputs == {"Fast": 9, "Mode": "ema"}
    assert row.params_key == params_key(source, {"Mode": "ema", "Fast": 9})
    assert row.status == "done" and row.tag == "robust" and row.reasons == ("pf ok", "dd ok")
    # Metrics default to the result's; NaN (undefined) is stored as null.
    assert row.metrics == {"net_profit": 120.5, "profit_factor": None, "total_closed_trades": 1}
    assert row.error is None and row.finished_at is not None and row.seconds is not None
    assert row.seconds >= 0 and row.has_result
    assert store.trials(run_id) == [row]

    kept = store.trial_result(trial_id)
    assert kept == replace(result, equity_curve=EquityCurve(),
                           metrics=FrozenMap({**result.metrics, "profit_factor": None}))
    assert kept is not None and kept.trades[0].entry_time == result.trades[0].entry_time
    assert store.daily_returns(run_id) == {trial_id: days}
    assert store.daily_returns(run_id, segment="in_sample") == {}

    with pytest.raises(ValueError, match="already finished"):
        store.finish_trial(trial_id, metrics={})
    with pytest.raises(KeyError):
        store.finish_trial(999_999)
    with pytest.raises(KeyError):
        store.trial_result(999_999)


def test_error_pruned_and_unkept_trials(store: RunStore) -> None:
    run_id, source = new_run(store)
    failed = start(store, run_id, source, {"Fast": 1})
    with pytest.raises(ValueError, match="status"):
        store.finish_trial(failed, error="boom")  # an error must say status="error"
    store.finish_trial(failed, error="EngineError: division by zero", status="error")
    pruned = start(store, run_id, source, {"Fast": 2})
    store.finish_trial(pruned, metrics={"net_profit": -5.0}, status="pruned", seconds=1.5)
    unkept = start(store, run_id, source, {"Fast": 3})
    store.finish_trial(unkept, result=sample_result(), keep_result=False)

    assert store.trial(failed).error == "EngineError: division by zero"
    assert store.trial(failed).status == "error"
    assert store.trial(pruned).seconds == 1.5
    assert store.trial_result(unkept) is None and not store.trial(unkept).has_result
    assert store.trial(unkept).metrics["net_profit"] == 120.5
    # Only "done" trials dedupe: a failed parameter set may be tried again.
    assert store.find_done_trial(run_id, source, {"Fast": 1}) is None
    assert store.find_done_trial(run_id, source, {"Fast": 2}) is None
    with pytest.raises(ValueError):
        start(store, run_id, source, {"Fast": 4}, segment="outer_space")
    with pytest.raises(KeyError, match="add_source"):
        start(store, run_id, "f" * 32, {"Fast": 4})
    with pytest.raises(InputError):
        start(store, "no-such-run", source, {"Fast": 4})
    with pytest.raises(ValueError):
        start(store, run_id, source, {"Fast": float("nan")})


def test_dedupe_ignores_key_order_and_respects_source_segment_and_run(store: RunStore) -> None:
    run_id, source = new_run(store)
    other_source = store.add_source(REWRITE, normalized_hash="norm-child", parent_hash=source)
    trial_id = start(store, run_id, source, {"Fast": 9, "Slow": 21, "Mode": "ema"},
                     condition="1")
    assert store.find_done_trial(run_id, source, {"Fast": 9, "Slow": 21, "Mode": "ema"}) is None
    store.finish_trial(trial_id, metrics={"net_profit": 10.0})

    found = store.find_done_trial(run_id, source, {"Mode": "ema", "Slow": 21, "Fast": 9})
    assert found is not None and found.id == trial_id
    assert found.params_key == params_key(source, {"Slow": 21, "Mode": "ema", "Fast": 9})
    assert store.find_done_trial(run_id, source, {"Fast": 9, "Slow": 21, "Mode": "ema"},
                                 condition="1") is not None
    assert store.find_done_trial(run_id, source, {"Fast": 9, "Slow": 21, "Mode": "ema"},
                                 condition="2") is None
    assert store.find_done_trial(run_id, source, {"Fast": 9, "Slow": 21}) is None
    assert store.find_done_trial(run_id, source, {"Fast": 9.0, "Slow": 21, "Mode": "ema"}) is None
    assert store.find_done_trial(run_id, other_source, {"Fast": 9, "Slow": 21,
                                                        "Mode": "ema"}) is None
    assert store.find_done_trial(run_id, source, {"Fast": 9, "Slow": 21, "Mode": "ema"},
                                 segment="holdout") is None
    other_run = store.create_run(engine="local", strategy_title="Cross", settings={})
    assert store.find_done_trial(other_run, source, {"Fast": 9, "Slow": 21, "Mode": "ema"}) is None


def test_counts_filters_and_best_trial(store: RunStore) -> None:
    run_id, source = new_run(store)
    profits = {("1", 1): 50.0, ("1", 2): 80.0, ("2", 3): 80.0, ("2", 4): -10.0, ("2", 5): None}
    ids = {}
    for (condition, fast), profit in profits.items():
        ids[fast] = start(store, run_id, source, {"Fast": fast}, condition=condition)
        store.finish_trial(ids[fast], metrics={"net_profit": profit, "max_drawdown": fast})
    holdout = start(store, run_id, source, {"Fast": 9}, segment="holdout")
    store.finish_trial(holdout, metrics={"net_profit": 1000.0})
    start(store, run_id, source, {"Fast": 10}, condition="1")  # still running

    assert store.count_trials(run_id) == 7
    assert store.count_trials(run_id, condition="1") == 3
    assert store.count_trials(run_id, condition="1", status="done") == 2
    assert store.count_trials(run_id, status="running") == 1
    assert store.count_trials(run_id, segment="holdout") == 1
    assert [t.id for t in store.trials(run_id, condition="2")] == [ids[3], ids[4], ids[5]]
    assert [t.id for t in store.trials(run_id, segment="holdout")] == [holdout]

    best = store.best_trial(run_id, "net_profit")
    assert best is not None and best.id == ids[2]  # tie at 80 goes to the earlier trial
    worst = store.best_trial(run_id, "net_profit", maximize=False)
    assert worst is not None and worst.id == ids[4]  # null is never best
    in_two = store.best_trial(run_id, "net_profit", condition="2")
    assert in_two is not None and in_two.id == ids[3]
    lowest_dd = store.best_trial(run_id, "max_drawdown", maximize=False)
    assert lowest_dd is not None and lowest_dd.id == ids[1]
    held_out = store.best_trial(run_id, "net_profit", segment="holdout")
    assert held_out is not None and held_out.id == holdout
    assert store.best_trial(run_id, "sharpe_ratio") is None
    with pytest.raises(ValueError):
        store.best_trial(run_id, 'x") OR 1=1 --')


def test_start_trial_is_committed_before_finish(tmp_path: Path, store: RunStore) -> None:
    run_id, source = new_run(store)
    trial_id = start(store, run_id, source, {"Fast": 9})
    other = sqlite3.connect(store.path)  # another process's view of the file
    row = other.execute("SELECT status, finished_at FROM trials WHERE id = ?",
                        (trial_id,)).fetchone()
    assert row == ("running", None)
    store.finish_trial(trial_id, metrics={"net_profit": 1.0})
    assert other.execute("SELECT status FROM trials WHERE id = ?",
                         (trial_id,)).fetchone() == ("done",)
    other.close()


def test_unfinished_trials_and_reset(store: RunStore) -> None:
    run_id, source = new_run(store)
    done = start(store, run_id, source, {"Fast": 1})
    store.finish_trial(done, metrics={"net_profit": 1.0})
    hung = [start(store, run_id, source, {"Fast": n}, worker=n) for n in (2, 3)]
    other_run, _ = new_run(store)
    start(store, other_run, source, {"Fast": 2})

    assert [t.id for t in store.unfinished_trials(run_id)] == hung
    assert store.reset_unfinished(run_id) == 2
    assert store.unfinished_trials(run_id) == []
    assert [t.id for t in store.trials(run_id)] == [done]
    assert len(store.unfinished_trials(other_run)) == 1  # other runs untouched
    assert store.events(run_id, kind="reset_unfinished")[0].payload == {"trial_ids": hung}
    assert store.reset_unfinished(run_id) == 0


def test_one_store_shared_by_threads(store: RunStore) -> None:
    run_id, source = new_run(store)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(50):
                trial_id = start(store, run_id, source, {"w": worker, "i": i}, worker=worker)
                store.finish_trial(trial_id, metrics={"net_profit": float(i)})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count_trials(run_id, status="done") == 200


# --------------------------------------------------------------------------- events, LLM, export


def test_events_round_trip(store: RunStore) -> None:
    run_id, _ = new_run(store)
    first = store.add_event(run_id, "started", {"workers": 4})
    store.add_event(run_id, "new_best", {"trial": 12, "net_profit": 310.5, "pf": float("inf")})
    events = store.events(run_id)
    assert events[0].id == first
    assert [(e.kind, e.payload) for e in events] == [
        ("started", {"workers": 4}), ("new_best", {"trial": 12, "net_profit": 310.5, "pf": None})]
    assert events[0].at <= events[1].at and events[0].run_id == run_id
    assert [e.kind for e in store.events(run_id, kind="new_best")] == ["new_best"]
    with pytest.raises(InputError):
        store.add_event("nope", "started", {})


def test_llm_exchanges_and_model_stats(store: RunStore) -> None:
    run_id, source = new_run(store)
    trial_id = start(store, run_id, source, {"Fast": 9})
    rows = [("fast-model", "ok", 1.0), ("fast-model", "compile_error", 3.0),
            ("fast-model", "ok", 2.0), ("slow-model", "timeout", None),
            ("slow-model", "ok", 30.0)]
    for n, (model, outcome, latency) in enumerate(rows):
        store.add_llm_exchange(run_id, model=model, prompt=f"improve {n}", reply=f"code {n}",
                               latency=latency, outcome=outcome, worker=n % 2,
                               trial_id=trial_id if n == 0 else None)
    exchanges = store.llm_exchanges(run_id)
    assert [x.model for x in exchanges] == [r[0] for r in rows]
    assert exchanges[0].trial_id == trial_id and exchanges[1].trial_id is None
    assert (exchanges[3].prompt, exchanges[3].reply, exchanges[3].latency) == (
        "improve 3", "code 3", None)
    stats = store.llm_model_stats(run_id)
    assert stats == {"fast-model": ModelStats(3, 2, 2.0), "slow-model": ModelStats(2, 1, 30.0)}
    attempts, successes, latency = stats["fast-model"]
    assert (attempts, successes, latency) == (3, 2, 2.0)
    assert store.llm_model_stats(new_run(store)[0]) == {}
    with pytest.raises(ValueError):
        store.add_llm_exchange(run_id, model="m", prompt="p", reply=None, latency=None,
                               outcome="great")  # type: ignore[arg-type]


def test_export_json_snapshot(store: RunStore) -> None:
    run_id, source = new_run(store)
    child = store.add_source(REWRITE, normalized_hash="norm-child", parent_hash=source)
    store.add_source("unrelated", normalized_hash="u")
    kept = start(store, run_id, child, {"Fast": 9})
    store.finish_trial(kept, result=sample_result())
    store.add_event(run_id, "started", {"workers": 1})
    store.add_llm_exchange(run_id, model="m", prompt="p", reply="r", latency=0.5, outcome="ok")

    document = store.export_json(run_id)
    assert json.loads(json.dumps(document, allow_nan=False)) == document
    assert document["format"] == "tvdesk.run" and document["schema_version"] == SCHEMA_VERSION
    assert document["run"]["id"] == run_id and document["run"]["settings"] == {"trials": 100}
    # The run's sources and their ancestors, not every source in the file.
    assert [s["hash"] for s in document["sources"]] == [source, child]
    assert document["sources"][1]["pine"] == REWRITE
    (trial,) = document["trials"]
    assert trial["id"] == kept and trial["inputs"] == {"Fast": 9}
    assert BacktestResult.from_dict(trial["result"]) == store.trial_result(kept)
    assert [e["kind"] for e in document["events"]] == ["started"]
    assert "llm_exchanges" not in document
    assert store.export_json(run_id, include_llm=True)["llm_exchanges"][0]["reply"] == "r"


# --------------------------------------------------------------------------- secrets


def test_no_secret_reaches_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    markers = ["sk-TEST-OPENAI-9f8e7d6c5b4a", "tv-PASSWORD-MARKER-1234", "TOTPSEED-MARKER-XYZ"]
    monkeypatch.setenv("OPENAI_API_KEY", markers[0])
    monkeypatch.setenv("TVDESK_TRADINGVIEW_PASSWORD", markers[1])
    monkeypatch.setenv("TVDESK_TOTP_SECRET", markers[2])
    path = tmp_path / "runs.sqlite"
    with RunStore.open(path) as store:
        settings = {"engine": "local", "llm": {"model": "gpt-4o-mini", "max_tokens": 4000,
                                               "api_key_env": "OPENAI_API_KEY"},
                    "inputs": {"Token Length": 14}, "processes": 4}
        run_id, source = new_run(store, **settings)
        trial_id = start(store, run_id, source, {"Fast": 9})
        store.finish_trial(trial_id, result=sample_result(), daily_returns=(["2024-01-02"],
                                                                              [0.01]))
        store.add_llm_exchange(run_id, model="gpt-4o-mini", prompt=PINE, reply=REWRITE,
                               latency=2.5, outcome="ok", trial_id=trial_id)
        store.add_event(run_id, "started", {"model": "gpt-4o-mini", "tokens_used": "1.2k",
                                            "inputs": {"Secret Sauce": "on"}})
        # A caller that mistakenly passes a secret is refused before anything is written.
        with pytest.raises(ValueError, match="looks like a secret"):
            store.create_run(engine="local", strategy_title="x",
                             settings={"llm": {"api_key": markers[0]}})
        with pytest.raises(ValueError, match="looks like a secret"):
            store.add_event(run_id, "login", {"tradingview": {"password": markers[1]}})
        assert store.get_run(run_id).settings["llm"]["api_key_env"] == "OPENAI_API_KEY"
    written = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"gpt-4o-mini" in written  # the check reads the real content
    for marker in markers:
        assert marker.encode() not in written
    # And no method even has a parameter a secret could be passed through.
    for name, method in inspect.getmembers(RunStore, inspect.isfunction):
        for parameter in inspect.signature(method).parameters:
            assert not re.search(r"password|secret|api_?key|token", parameter), (name, parameter)


# --------------------------------------------------------------------------- processes

_KILL_CHILD = """
import sys, time
from tvdesk.store import RunStore
path, run_id, source, block_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = RunStore.open(path)
i = 0
while True:
    trial_id = store.start_trial(run_id, worker=0, condition=None, iteration=i,
                                 proposer="params", source_hash=source, inputs={"Fast": i})
    print("started", trial_id, flush=True)
    if i == block_at:
        time.sleep(600)  # a backtest that is still running when the process is killed
    store.finish_trial(trial_id, metrics={"net_profit": float(i)},
                       daily_returns=(["2024-01-02", "2024-01-03"], [i / 100, -0.5]))
    print("done", trial_id, i, flush=True)
    i += 1
"""


@pytest.mark.parametrize("block_at", [25, -1], ids=["killed-mid-backtest", "killed-mid-writes"])
def test_sigkill_leaves_a_store_that_opens_with_finished_trials_intact(
        tmp_path: Path, block_at: int) -> None:
    path = tmp_path / "runs.sqlite"
    with RunStore.open(path) as store:
        run_id, source = new_run(store)
    child = run_child(_KILL_CHILD, str(path), run_id, source, str(block_at))
    assert child.stdout is not None and child.stderr is not None
    done: dict[int, int] = {}
    started: list[int] = []
    try:
        while True:
            line = child.stdout.readline()
            assert line, f"child ended early: {child.stderr.read()}"
            words = line.split()
            if words[0] == "started":
                started.append(int(words[1]))
            else:
                done[int(words[1])] = int(words[2])
            if block_at >= 0 and len(started) == block_at + 1:
                break  # the child now sits inside its "backtest"
            if block_at < 0 and len(done) >= 150:
                break  # the child is still writing as fast as it can
    finally:
        child.kill()  # SIGKILL on POSIX: no cleanup, no atexit, no close()
        child.wait()
        child.stdout.close()
        child.stderr.close()

    with RunStore.open(path) as store:
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = {t.id: t for t in store.trials(run_id)}
        for trial_id, i in done.items():  # every reported finish survived, whole
            assert rows[trial_id].status == "done"
            assert rows[trial_id].metrics == {"net_profit": float(i)}
            assert store.daily_returns(run_id)[trial_id] == (["2024-01-02", "2024-01-03"],
                                                             [i / 100, -0.5])
        unfinished = [t.id for t in store.unfinished_trials(run_id)]
        if block_at >= 0:
            assert unfinished == [started[-1]] and len(done) == block_at
        else:  # killed anywhere: at most the one in flight is unfinished
            assert len(unfinished) <= 1 and all(u > max(done) for u in unfinished)
        assert store.reset_unfinished(run_id) == len(unfinished)
        assert store.count_trials(run_id) == store.count_trials(run_id, status="done")


_WRITER_CHILD = """
import sys, time
from pathlib import Path
from tvdesk.store import RunStore
path, run_id, worker, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
pine = "//@version=6\\nstrategy('Shared')\\n"
(sync / f"ready-{worker}").touch()
while not (sync / "go").exists():
    time.sleep(0.001)
store = RunStore.open(path)  # both may be creating and migrating the file at this moment
if run_id == "-":
    run_id = store.create_run(engine="local", strategy_title="Shared", settings={})
source = store.add_source(pine, normalized_hash="shared")
for i in range(200):
    trial_id = store.start_trial(run_id, worker=worker, condition=str(worker), iteration=i,
                                 proposer="params", source_hash=source,
                                 inputs={"worker": worker, "i": i})
    store.finish_trial(trial_id, metrics={"net_profit": float(i)},
                       daily_returns=(["2024-01-02"], [i / 1000]))
    store.add_event(run_id, "trial", {"worker": worker, "i": i})
store.close()
print("ok", run_id)
"""


@pytest.mark.parametrize("fresh_file", [False, True], ids=["shared-run", "fresh-file"])
def test_two_processes_write_concurrently(tmp_path: Path, fresh_file: bool) -> None:
    path = tmp_path / "store" / "runs.sqlite"
    run_arg = "-"
    if not fresh_file:
        with RunStore.open(path) as store:
            run_arg = store.create_run(engine="local", strategy_title="Shared", settings={})
    sync = tmp_path / "sync"
    sync.mkdir()
    children = [run_child(_WRITER_CHILD, str(path), run_arg, str(w), str(sync)) for w in (1, 2)]
    wait_for(lambda: all((sync / f"ready-{w}").exists() for w in (1, 2)), "both writers")
    (sync / "go").touch()
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert out.startswith("ok")
    run_ids = sorted({out.split()[1] for out, _ in outputs})

    with RunStore.open(path) as store:
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        trials = [t for run_id in run_ids for t in store.trials(run_id)]
        assert len(trials) == 400
        assert all(t.status == "done" for t in trials)
        for worker in (1, 2):
            mine = sorted(t.inputs["i"] for t in trials if t.worker == worker)
            assert mine == list(range(200))
        assert sum(len(store.daily_returns(run_id)) for run_id in run_ids) == 400
        assert sum(len(store.events(run_id)) for run_id in run_ids) == 400
        assert len(run_ids) == (2 if fresh_file else 1)


def test_set_tags_writes_tags_and_reasons_of_done_trials_only(tmp_path: Path) -> None:
    with RunStore.open(tmp_path / "tags.db") as store:
        run_id = store.create_run(engine="local", strategy_title="T", settings={})
        source = store.add_source("//@version=6", normalized_hash="n")
        done = store.start_trial(run_id, worker=1, condition=None, iteration=1,
                                 proposer="params", source_hash=source, inputs={"a": 1})
        store.finish_trial(done, metrics={"net_profit": 1.0})
        running = store.start_trial(run_id, worker=1, condition=None, iteration=2,
                                    proposer="params", source_hash=source, inputs={"a": 2})
        changed = store.set_tags([(done, "OVERFIT", ["PBO 0.62 > 0.5"]),
                                  (running, "GOOD", ["should not stick"])])
        assert changed == 1
        assert store.trial(done).tag == "OVERFIT"
        assert store.trial(done).reasons == ("PBO 0.62 > 0.5",)
        assert store.trial(running).tag is None


def test_trial_daily_returns_reads_one_trials_row(store: RunStore) -> None:
    run_id, source = new_run(store)
    kept = start(store, run_id, source, {"a": 1})
    days = (["2024-03-01", "2024-03-04"], [0.0125, -0.003])
    store.finish_trial(kept, result=sample_result(), daily_returns=days)
    other = start(store, run_id, source, {"a": 2})
    store.finish_trial(other, result=sample_result(), daily_returns=(["2024-03-01"], [0.5]))
    without = start(store, run_id, source, {"a": 3})
    store.finish_trial(without, metrics={"net_profit": 0.0})

    assert store.trial_daily_returns(kept) == days
    assert store.trial_daily_returns(kept) == store.daily_returns(run_id)[kept]
    assert store.trial_daily_returns(other) == (["2024-03-01"], [0.5])
    assert store.trial_daily_returns(without) is None
    assert store.trial_daily_returns(999_999) is None
    # Like every public method it is guarded: sqlite errors become StoreError.
    assert hasattr(RunStore.trial_daily_returns, "__wrapped__")
