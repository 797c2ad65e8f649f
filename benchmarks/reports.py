"""How long writing every report format of a 1,000-trial run takes.

Run: `python benchmarks/reports.py [--trials N] [--trades M] [--top K]`. It builds a synthetic
`ReportData` (N trials with four inputs and TradingView's full metric set plus tvdesk's own
statistics, the best K trials in full with M trades each and a daily equity series over four
years) and times each format separately, then all of them through `write_reports`, into a
temporary folder. Tests never assert wall-clock time; this script reports it.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tvdesk.metric_catalog import METRICS, variant_key  # noqa: E402
from tvdesk.model import BacktestResult, FrozenMap, Trade  # noqa: E402
from tvdesk.reports import FORMATS, write_reports  # noqa: E402
from tvdesk.reports.builders import pick_details  # noqa: E402
from tvdesk.reports.data import (  # noqa: E402
    EquitySeries,
    ReportData,
    RunSummary,
    TimelineEvent,
    TrialSummary,
)

START = datetime(2020, 1, 1, tzinfo=UTC)
INITIAL = 10_000.0


def metrics(rng: random.Random) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {}
    for definition in METRICS:
        for scope in ("all", "long", "short") if definition.by_side else ("all",):
            key = variant_key(definition.key, scope)
            out[key] = rng.randint(0, 500) if definition.unit == "count" else \
                round(rng.uniform(-50, 150), 6)
            if definition.has_percent:
                out[variant_key(definition.key, scope, True)] = round(rng.uniform(-20, 40), 6)
    out["initial_capital"] = INITIAL
    out["profit_factor"] = None if rng.random() < 0.05 else round(rng.uniform(0.5, 3), 6)
    for key in ("sharpe_daily", "sortino_daily", "calmar", "sqn", "expectancy",
                "exposure_percent"):
        out[key] = round(rng.uniform(-1, 3), 6)
    return out


def trades(rng: random.Random, count: int) -> tuple[Trade, ...]:
    out = []
    moment = START
    cum = 0.0
    for number in range(1, count + 1):
        entry = moment + timedelta(hours=rng.randint(1, 20))
        exit_ = entry + timedelta(hours=rng.randint(1, 40))
        price = 1.1 + rng.uniform(-0.05, 0.05)
        profit = round(rng.gauss(2, 40), 2)
        cum += profit
        side = "long" if rng.random() < 0.6 else "short"
        out.append(Trade(number=number, side=side, entry_time=entry, entry_price=price,
                         qty=9000.0, exit_time=exit_, exit_price=price + profit / 9000,
                         profit=profit, profit_percent=profit / 100, entry_signal=side.title(),
                         exit_signal="Exit", run_up=abs(profit) + 5, run_up_percent=0.5,
                         drawdown=5.0, drawdown_percent=0.05, cum_profit=round(cum, 2)))
        moment = exit_
    return tuple(out)


def build(n_trials: int, n_trades: int, top: int, seed: int = 7) -> ReportData:
    rng = random.Random(seed)
    summaries = []
    for index in range(1, n_trials + 1):
        started = START + timedelta(seconds=index * 0.5)
        summaries.append(TrialSummary(
            id=index, worker=1 + index % 4, condition=str(1 + index % 3), iteration=index // 3,
            proposer="params", segment="in_sample",
            inputs=FrozenMap({"Fast Length": rng.randint(2, 100),
                              "Slow Length": rng.randint(5, 300),
                              "Multiplier": round(rng.uniform(0.5, 3), 2),
                              "Allow Shorts": rng.random() < 0.5}),
            metrics=FrozenMap(metrics(rng)), tag=rng.choice(("GOOD", "NORMAL", "RISK",
                                                             "OVERFIT")),
            reasons=("probability of backtest overfitting 0.57 > 0.5",),
            started_at=started, finished_at=started + timedelta(seconds=0.4), seconds=0.4))
    chosen = pick_details(summaries, top)
    details = []
    equity = {}
    for trial in chosen:
        result_trades = trades(rng, n_trades)
        result = BacktestResult(source="local", metrics=trial.metrics, trades=result_trades,
                                properties=FrozenMap({
                                    "timezone": "UTC", "currency": "USD",
                                    "symbol": "FX:EURUSD", "timeframe": "60",
                                    "inputs": dict(trial.inputs),
                                    "trading_range": [START.isoformat(),
                                                      result_trades[-1].exit_time.isoformat()],
                                }))
        details.append((trial, result))
        days = (result_trades[-1].exit_time - START).days
        values, value = [], INITIAL
        for _ in range(days):
            value *= 1 + rng.gauss(0.0003, 0.006)
            values.append(value)
        times = tuple(START + timedelta(days=d + 1) for d in range(days))
        equity[trial.id] = EquitySeries(times, tuple(values), INITIAL, "daily",
                                        tuple(INITIAL * (1 + 0.0001 * d) for d in range(days)))
    run = RunSummary(id="20200101-000000-beef", strategy_title="Synthetic benchmark",
                     engine="local", created_at=START, finished_at=START + timedelta(hours=1),
                     status="finished", settings=FrozenMap({"engine": "local", "seed": 1,
                                                            "max_iterations": n_trials}),
                     symbol="FX:EURUSD", timeframe="60")
    timeline = tuple(TimelineEvent(at=t.started_at or START, kind="new_best", trial_id=t.id,
                                   payload=FrozenMap({"trial_id": t.id, "score": 1.0}))
                     for t in summaries[:20])
    return ReportData(run=run, trials=tuple(summaries), details=tuple(details),
                      equity=FrozenMap(equity), timeline=timeline,
                      robustness=FrozenMap({"pbo": 0.31, "dsr": 0.92, "trials": n_trials}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1_000)
    parser.add_argument("--trades", type=int, default=1_000)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    data = build(args.trials, args.trades, args.top)
    print(f"synthetic report: {len(data.trials)} trials, {len(data.details)} in full with "
          f"{args.trades} trades each (built in {time.perf_counter() - start:.2f} s)")
    with tempfile.TemporaryDirectory() as folder:
        for fmt in FORMATS:
            start = time.perf_counter()
            paths = write_reports(data, Path(folder) / fmt, (fmt,))
            seconds = time.perf_counter() - start
            size = sum(p.stat().st_size for p in paths) / 1e6
            print(f"  {fmt:<5} {seconds:6.2f} s  {len(paths):>2} file(s)  {size:6.1f} MB")
        start = time.perf_counter()
        paths = write_reports(data, Path(folder) / "all")
        print(f"all formats: {time.perf_counter() - start:.2f} s, {len(paths)} files")


if __name__ == "__main__":
    main()
