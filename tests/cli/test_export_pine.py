"""`tvdesk export-pine`: a trial shipped as a script trades exactly like the trial."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import EURUSD, ROOT, tvdesk
from tvdesk.store import RunStore

MULTI = ROOT / "pine" / "examples" / "multi_condition.pine"
SYMBOL = ("--symbol", "FX:EURUSD", "--timeframe", "60", "--mintick", "0.00001",
          "--pointvalue", "1", "--from", "2017-06-01", "--to", "2017-12-31")


def _trade_keys(trades: list[dict]) -> list[tuple]:
    return [(t["entry_time"], t["exit_time"], t["entry_price"], t["exit_price"],
             round(t["profit"], 6)) for t in trades]


def test_an_exported_trial_re_evaluates_to_the_trials_trades(tmp_path: Path) -> None:
    store_path = tmp_path / "runs.db"
    run = tvdesk("optimize", "--script", str(MULTI), "--data", str(EURUSD), *SYMBOL,
                 "--conditions", "1,3", "--holdout", "0%", "--max-iterations", "6",
                 "--process-count", "1", "--store", str(store_path),
                 "--workspace", str(tmp_path / "ws"))
    assert run.returncode == 0, run.stderr
    with RunStore.open_for_reading(store_path) as store:
        run_id = store.latest_run_id()
        assert run_id
        trials = [t for t in store.trials(run_id, status="done") if t.condition == "3"]
        trial = max(trials, key=lambda t: t.metrics["net_profit_percent"])
        result = store.trial_result(trial.id)
        source = store.get_source(trial.source_hash)
    assert result is not None and trial.inputs != {}

    out = tmp_path / "winner.pine"
    export = tvdesk("export-pine", "--store", str(store_path), "--run", run_id,
                    "--trial", str(trial.id), "--out", str(out))
    assert export.returncode == 0, export.stderr
    assert f"trial {trial.id} of run {run_id} written to {out}" in export.stdout
    written = out.read_text()
    assert "Condition: 1 -> 3" in export.stdout
    assert 'input.int(3, "Condition"' in written
    # Nothing but the defaults changed: the same lines, in the same order.
    assert [line for line in written.splitlines() if "input" not in line] == \
           [line for line in source.splitlines() if "input" not in line]

    document = tmp_path / "again.json"
    again = tvdesk("evaluate", "--script", str(out), "--data", str(EURUSD), *SYMBOL,
                   "--json", str(document))
    assert again.returncode == 0, again.stderr
    evaluated = json.loads(document.read_text())
    for title, value in trial.inputs.items():
        assert str(evaluated["properties"]["inputs"][title]) == str(value)  # condition: "3"
    assert _trade_keys(evaluated["trades"]) == _trade_keys(result.to_dict()["trades"])
    assert evaluated["metrics"]["net_profit"] == result.metrics["net_profit"]


def test_export_pine_refuses_an_unknown_trial_or_another_runs_trial(tmp_path: Path) -> None:
    store_path = tmp_path / "runs.db"
    first = tvdesk("optimize", "--script", str(ROOT / "pine" / "examples" / "sma_cross.pine"),
                   "--data", str(EURUSD), *SYMBOL, "--max-iterations", "2",
                   "--process-count", "1", "--holdout", "0%", "--store", str(store_path),
                   "--workspace", str(tmp_path / "ws"))
    assert first.returncode == 0, first.stderr
    missing = tvdesk("export-pine", "--store", str(store_path), "--trial", "999",
                     "--out", str(tmp_path / "x.pine"))
    assert missing.returncode == 2
    assert "--trial 999: no such trial" in missing.stderr
    wrong_run = tvdesk("export-pine", "--store", str(store_path), "--run", "nope",
                       "--trial", "1", "--out", str(tmp_path / "x.pine"))
    assert wrong_run.returncode == 2 and "no run 'nope'" in wrong_run.stderr
    no_store = tvdesk("export-pine", "--store", str(tmp_path / "none.db"), "--trial", "1",
                      "--out", str(tmp_path / "x.pine"))
    assert no_store.returncode == 2 and "none.db" in no_store.stderr
    assert not (tmp_path / "x.pine").exists()
