"""What request.security costs: the same strategy with and without a higher-timeframe context.

    python benchmarks/mtf.py [--data FILE.csv] [--runs 5]

One warm process (as a pool worker is): each variant runs once to warm up (transpile, import,
PyneCore's forkserver for security child processes), then `--runs` times; the median is
reported with the ratio to the plain variant. The variants differ only in where the EMA comes
from: the chart's own bars, a 240-minute context, or a daily context. Default data: the
bundled EURUSD hourly bars.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TVDESK_HOME", tempfile.mkdtemp(prefix="tvdesk-bench-"))

TEMPLATE = """//@version=6
strategy("ema trend", overlay=true, default_qty_type=strategy.fixed, default_qty_value=1)
basis = {source}
if ta.crossover(close, basis)
    strategy.entry("L", strategy.long)
if ta.crossunder(close, basis)
    strategy.entry("S", strategy.short)
"""
VARIANTS = {
    "plain (chart bars)": "ta.ema(close, 50)",
    "request.security 240": 'request.security(syminfo.tickerid, "240", ta.ema(close, 50))',
    "request.security D": 'request.security(syminfo.tickerid, "D", ta.ema(close, 50))',
}


def main() -> int:
    from tvdesk.engines.local.backtest import BacktestContext, run_backtest
    from tvdesk.model import BacktestRequest, SymbolSpec
    from tvdesk.pine.loader import load_strategy_source
    from tvdesk.pine.transpile import TranspileCache

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "resources" / "data" / "EURUSD_1h.csv"))
    parser.add_argument("--symbol", default="FX:EURUSD")
    parser.add_argument("--mintick", type=float, default=0.00001)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        cache = TranspileCache(Path(tmp) / "transpiled")
        context = BacktestContext(cache, scratch=Path(tmp) / "scratch")
        symbol = SymbolSpec(ticker=args.symbol, mintick=args.mintick, pointvalue=1.0)
        medians: dict[str, float] = {}
        for name, source in VARIANTS.items():
            strategy = load_strategy_source(TEMPLATE.format(source=source), cache=cache)
            request = BacktestRequest(strategy=strategy, data_path=args.data, symbol=symbol)
            started = time.perf_counter()
            result = run_backtest(request, context)
            cold = time.perf_counter() - started
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                run_backtest(request, context)
                times.append(time.perf_counter() - started)
            medians[name] = statistics.median(times)
            bars = result.properties["bars"]
            print(f"{name:<22} first run {cold:6.2f} s, warm median {medians[name]:6.2f} s "
                  f"({bars / medians[name]:,.0f} bars/s), {len(result.trades)} trades")
        plain = medians["plain (chart bars)"]
        for name, value in medians.items():
            print(f"{name:<22} {value / plain:4.2f}x the plain run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
