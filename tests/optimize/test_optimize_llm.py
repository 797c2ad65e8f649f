"""LLM rewrites through the real loop: a fake OpenAI-compatible server on 127.0.0.1, the real
`openai` client, the real local engine, a real SQLite store and a real (file) keyring."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from tvdesk.app.optimize import run_optimization
from tvdesk.engines.local import LocalEngine
from tvdesk.model import BacktestRequest, SymbolSpec
from tvdesk.optimize.settings import LLMSettings, OptimizeSettings
from tvdesk.pine.loader import load_strategy_source
from tvdesk.store import RunStore

from fake_openai import (
    BROKEN_PINE,
    DEV_PINE,
    broken,
    dev_variant,
    duplicate,
    fake_openai_server,
    good,
    prose,
    rate_limit,
    timeout,
)

ROOT = Path(__file__).resolve().parents[2]
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"
_ = fake_openai_server  # the fixture is used by name below (fake_llm)


def run(fake_llm, tmp_path: Path, **overrides) -> tuple[RunStore, object]:
    request = BacktestRequest(strategy=load_strategy_source(DEV_PINE), data_path=str(EURUSD),
                              symbol=SymbolSpec(ticker="FX:EURUSD", mintick=0.00001,
                                                pointvalue=1))
    llm = LLMSettings(base_url=fake_llm.base_url, models=("fake-a",), model="fake-a",
                      timeout=overrides.pop("llm_timeout", 30.0))
    settings = replace(OptimizeSettings(request=request, proposer="llm", holdout=0,
                                        llm=llm, workspace=str(tmp_path / "ws")), **overrides)
    store = RunStore.open(tmp_path / "runs.db")

    async def main():
        async with LocalEngine(processes=1) as engine:
            return await run_optimization(settings, store, engine=engine)

    return store, asyncio.run(main())


def test_good_rewrites_are_run_stored_with_lineage_and_the_best_is_kept(
        fake_llm, llm_key, tmp_path: Path) -> None:
    fake_llm.script(good(dev_variant(8)), good(dev_variant(20)), good(dev_variant(30)))
    store, outcome = run(fake_llm, tmp_path, max_iterations=4)
    with store:
        trials = store.trials(outcome.run_id)
        assert [t.proposer for t in trials] == ["baseline", "llm", "llm", "llm"]
        exchanges = store.llm_exchanges(outcome.run_id)
        assert [e.outcome for e in exchanges] == ["ok", "ok", "ok"]
        # The prompt carried the current code and its metrics; the reply is stored.
        assert "Fast Length" in exchanges[0].prompt and "Net profit" in exchanges[0].prompt
        assert "```pine" in exchanges[0].reply
        # Lineage: each rewrite's parent is the version it was asked to improve.
        rewrite = store.source(trials[1].source_hash)
        assert rewrite.parent_hash == trials[0].source_hash
        # The best version is what the worker's file holds; a worse one never replaces it.
        best = outcome.tracks[None].best
        scores = {t.id: t.metrics["net_profit_percent"] for t in trials}
        assert best.id == max(scores, key=scores.get)
        worker_file = (tmp_path / "ws" / "pc_1.pine").read_text()
        assert worker_file == store.get_source(best.source_hash)
        # The second request told the model what the first rewrite achieved.
        assert "I tightened the entry" in fake_llm.requests[1].messages[-1]["content"]
        assert all(r.authorized for r in fake_llm.requests)  # the key from the keyring


@pytest.mark.parametrize(("behaviour", "outcome", "message"), [
    (lambda i: broken(BROKEN_PINE.replace("14", str(20 + i))), "compile_error",
     "the script did not compile"),
    (lambda i: prose(), "no_code", "the reply had no Pine script"),
])
def test_consecutive_errors_stop_at_the_limit(fake_llm, llm_key, tmp_path: Path, behaviour,
                                              outcome: str, message: str) -> None:
    fake_llm.script(*(behaviour(i) for i in range(6)))
    store, result = run(fake_llm, tmp_path, max_iterations=50, max_consecutive_errors=3)
    with store:
        exchanges = store.llm_exchanges(result.run_id)
        assert [e.outcome for e in exchanges] == [outcome] * 3
        reason = result.tracks[None].stop_reason
        assert reason.startswith("3 consecutive errors (max 3)") and message in reason
        assert len(fake_llm.requests) == 3


def test_timeouts_count_as_errors(fake_llm, llm_key, tmp_path: Path) -> None:
    fake_llm.script(timeout(3.0), timeout(3.0))
    store, result = run(fake_llm, tmp_path, max_iterations=50, max_consecutive_errors=2,
                        llm_timeout=0.5)
    with store:
        assert [e.outcome for e in store.llm_exchanges(result.run_id)] == ["timeout", "timeout"]
        assert "LLM timeout" in result.tracks[None].stop_reason


def test_rate_limit_is_retried_and_the_rewrite_still_runs(fake_llm, llm_key,
                                                          tmp_path: Path) -> None:
    fake_llm.script(rate_limit(0), good(dev_variant(9)))
    store, result = run(fake_llm, tmp_path, max_iterations=2)
    with store:
        assert [e.outcome for e in store.llm_exchanges(result.run_id)] == ["ok"]
        assert len(fake_llm.requests) == 2  # the 429 and its retry
        assert [t.proposer for t in store.trials(result.run_id)] == ["baseline", "llm"]


def test_duplicates_restart_the_worker_after_the_limit(fake_llm, llm_key,
                                                       tmp_path: Path) -> None:
    code = dev_variant(8)
    fake_llm.script(good(code), duplicate(code), duplicate(code), good(dev_variant(25)))
    store, result = run(fake_llm, tmp_path, max_iterations=3,
                        max_duplicate_consecutive_errors=2)
    with store:
        outcomes = [e.outcome for e in store.llm_exchanges(result.run_id)]
        assert outcomes == ["ok", "duplicate", "duplicate", "ok"]
        restarts = store.events(result.run_id, kind="worker_restarted")
        assert len(restarts) == 1
        assert restarts[0].payload["after_duplicates"] == 2
        # Duplicates cost no backtest: 1 baseline + 2 rewrites = the 3 iterations.
        assert store.count_trials(result.run_id) == 3


def test_no_api_key_in_the_keyring_is_a_clear_error(tmp_path: Path) -> None:
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "empty.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        from tvdesk.app.optimize import make_llm_client
        from tvdesk.errors import InputError

        request = BacktestRequest(strategy=load_strategy_source(DEV_PINE))
        settings = OptimizeSettings(request=request, proposer="llm",
                                    llm=LLMSettings(base_url="https://llm.example.com/v1"))
        with pytest.raises(InputError, match="tvdesk credentials set llm"):
            make_llm_client(settings)
    finally:
        keyring.set_keyring(previous)


def test_the_api_key_never_reaches_the_store_the_workspace_or_events(
        fake_llm, llm_key, tmp_path: Path) -> None:
    fake_llm.script(good(dev_variant(8)), prose())
    store, result = run(fake_llm, tmp_path, max_iterations=3, max_consecutive_errors=1)
    with store:
        snapshot = str(store.export_json(result.run_id, include_llm=True))
    assert llm_key not in snapshot
    for path in [tmp_path / "runs.db", *(tmp_path / "ws").iterdir()]:
        assert llm_key.encode() not in path.read_bytes(), path
    for wal in tmp_path.glob("runs.db*"):
        assert llm_key.encode() not in wal.read_bytes(), wal


def test_a_hostile_rewrite_is_refused_recorded_and_the_run_goes_on(
        fake_llm, llm_key, tmp_path: Path) -> None:
    """An endpoint answering with a script that reaches for the machine: nothing runs, the
    exchange is stored as refused with the check's reason, and the next rewrite runs."""
    marker = tmp_path / "pwned"
    hostile = DEV_PINE.rstrip() + f'\nlog.os.system("touch {marker}")\n'
    fake_llm.script(good(hostile), good(dev_variant(8)))
    store, outcome = run(fake_llm, tmp_path, max_iterations=2, max_consecutive_errors=3)
    assert not marker.exists()
    with store:
        exchanges = store.llm_exchanges(outcome.run_id)
        assert [e.outcome for e in exchanges] == ["refused", "ok"]
        assert exchanges[0].error and "`log.os` is not part of Pine" in exchanges[0].error
        assert exchanges[0].trial_id is None, "a refused rewrite is never a trial"
        trials = store.trials(outcome.run_id)
        assert [t.proposer for t in trials] == ["baseline", "llm"]
        assert all("log.os" not in store.source(t.source_hash).pine for t in trials)


def test_a_model_stuck_on_one_script_ends_the_run_by_itself(fake_llm, llm_key,
                                                            tmp_path: Path) -> None:
    """The same script again and again (as a stuck model does): the worker restarts after
    each few duplicates, and after FRUITLESS_RESTARTS restarts with no new trial the track
    stops with that reason, in the outcome and in the store, long before the call budget."""
    from tvdesk.optimize.llm_worker import FRUITLESS_RESTARTS

    fake_llm.forever(duplicate(DEV_PINE))
    store, result = run(fake_llm, tmp_path, max_iterations=3,
                        max_duplicate_consecutive_errors=2)
    with store:
        reason = result.tracks[None].stop_reason
        assert reason.startswith(f"no new trial after {FRUITLESS_RESTARTS} restarts")
        assert len(fake_llm.requests) == FRUITLESS_RESTARTS * 2
        finished = store.events(result.run_id, kind="track_finished")
        assert finished[-1].payload["reason"] == reason
        assert len(store.events(result.run_id, kind="worker_restarted")) == FRUITLESS_RESTARTS
        assert store.count_trials(result.run_id) == 1  # the baseline only


def test_every_request_counts_against_the_call_budget_retries_included(
        fake_llm, llm_key, tmp_path: Path) -> None:
    """An endpoint failing with 500s: each call is tried 3 times; a budget of 4 requests lets
    exactly 4 reach the server, and the track stops saying the budget is used up."""
    from fake_openai import server_error

    fake_llm.forever(server_error())
    store, result = run(fake_llm, tmp_path, max_iterations=50, max_llm_calls=4,
                        max_consecutive_errors=100)
    with store:
        assert len(fake_llm.requests) == 4
        assert "budget of 4 LLM calls is used up" in result.tracks[None].stop_reason


def test_the_default_call_budget_follows_max_iterations() -> None:
    from tvdesk.optimize.settings import llm_call_budget

    request = BacktestRequest(strategy=load_strategy_source(DEV_PINE), data_path=str(EURUSD))
    settings = OptimizeSettings(request=request, proposer="llm", max_iterations=7)
    assert llm_call_budget(settings) == 21
    assert llm_call_budget(replace(settings, conditions=("1", "2"))) == 42
    assert llm_call_budget(replace(settings, max_llm_calls=5)) == 5
