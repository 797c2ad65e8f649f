"""Watchlist throughput, and the market data library's file format.

    python benchmarks/watchlist.py [--trials 40] [--repeats 3]

1. Trials per minute of a TPE search of the SMA cross example with 2 worker processes, on one
   chart and on a watchlist of four charts of the same size (the bundled EURUSD hourly bars and
   three copies shifted by whole years and rescaled, 5,000 bars each, 20 % holdout). A trial of
   the watchlist is four backtests, so the ideal is a quarter of the one-chart rate; the script
   prints the measured share of that ideal (the engine runs the four side by side). The engine
   is started and warmed before the clock starts, in both cases.
2. Loading a series: the bundled CSV through `load_bars`, against the same bars as a library
   series (`.npz`), against PyneCore's own `.ohlcv` reader.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
HOME = tempfile.mkdtemp(prefix="tvdesk-bench-")
os.environ["TVDESK_HOME"] = HOME

from tvdesk.app.watchlist import resolve_charts  # noqa: E402
from tvdesk.data.library import Library  # noqa: E402
from tvdesk.data.market_data import load_bars  # noqa: E402
from tvdesk.engines.local import LocalEngine  # noqa: E402
from tvdesk.model import BacktestRequest, SymbolSpec  # noqa: E402
from tvdesk.optimize.loop import Optimizer  # noqa: E402
from tvdesk.optimize.settings import OptimizeSettings  # noqa: E402
from tvdesk.pine.loader import load_strategy  # noqa: E402
from tvdesk.store import RunStore  # noqa: E402

SCRIPT = ROOT / "pine" / "examples" / "sma_cross.pine"
DATA = ROOT / "resources" / "data" / "EURUSD_1h.csv"
SYMBOLS = ("FX:EURUSD", "FX:COPYA", "FX:COPYB", "FX:COPYC")


def build_library(folder: Path) -> Library:
    library = Library()
    library.add([DATA], symbol=SYMBOLS[0], mintick=0.00001)
    lines = DATA.read_text().splitlines()
    for years, symbol in enumerate(SYMBOLS[1:], start=1):
        rows = [lines[0]]
        for row in lines[1:]:
            stamp, *cells = row.split(",")
            prices = [f"{float(c) * (1 + years / 10):.5f}" for c in cells[:4]]
            rows.append(",".join([f"{int(stamp[:4]) + years}{stamp[4:]}", *prices, cells[4]]))
        path = folder / f"{symbol.split(':')[1]}.csv"
        path.write_text("\n".join(rows) + "\n")
        library.add([path], symbol=symbol, mintick=0.00001)
    return library


async def search(trials: int, symbols: tuple[str, ...], folder: Path, tag: str) -> float:
    charts = resolve_charts(symbols, ())
    request = BacktestRequest(strategy=load_strategy(SCRIPT),
                              symbol=SymbolSpec(ticker=symbols[0]))
    settings = replace(OptimizeSettings(request=request), max_iterations=trials,
                       process_count=2, workspace=str(folder / f"ws_{tag}"), charts=charts)
    engine = LocalEngine(processes=2)
    await engine.warm_up([c.data_path for c in charts])
    try:
        with RunStore.open(folder / f"{tag}.db") as store:
            optimizer = Optimizer(settings, engine, store)
            started = time.perf_counter()
            outcome = await optimizer.run()
            seconds = time.perf_counter() - started
            done = store.count_trials(outcome.run_id, status="done", segment="in_sample")
    finally:
        await engine.close()
    return done / seconds * 60


def load_times(library: Library, repeats: int) -> None:
    from pynecore.core.ohlcv import OHLCVReader, OHLCVWriter
    from pynecore.types.ohlcv import OHLCV

    entry = library.resolve(SYMBOLS[0], "60")
    bars = load_bars(DATA)
    ohlcv = Path(HOME) / "eurusd.ohlcv"
    with OHLCVWriter(ohlcv, "60", truncate=True) as writer, writer.batched():
        for row in zip(bars.times.tolist(), bars.open.tolist(), bars.high.tolist(),
                       bars.low.tolist(), bars.close.tolist(), bars.volume.tolist(),
                       strict=True):
            writer.write(OHLCV(*row))

    def read_ohlcv() -> None:
        with OHLCVReader(ohlcv) as reader:
            list(reader)

    for name, load in (("CSV (load_bars)", lambda: load_bars(DATA)),
                       ("library .npz (load_bars)", lambda: load_bars(entry.path)),
                       ("PyneCore .ohlcv (OHLCVReader)", read_ohlcv)):
        times = []
        for _ in range(repeats * 5):
            started = time.perf_counter()
            load()
            times.append(time.perf_counter() - started)
        print(f"  {name:32s} {statistics.median(times) * 1000:8.2f} ms (median of "
              f"{len(times)}, {len(bars)} bars)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {args.trials}-trial TPE "
          f"search of {SCRIPT.name}, 2 workers")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        library = build_library(folder)
        ratios = []
        for n in range(args.repeats):
            one = asyncio.run(search(args.trials, SYMBOLS[:1], folder, f"one{n}"))
            four = asyncio.run(search(args.trials, SYMBOLS, folder, f"four{n}"))
            share = four / (one / 4)
            ratios.append(share)
            print(f"  run {n + 1}: one chart {one:6.0f} trials/min; four charts {four:6.0f} "
                  f"trials/min = {share:.2f} of the ideal quarter")
        print(f"  median share of the ideal: {statistics.median(ratios):.2f}")
        print("loading 5,000 hourly bars:")
        load_times(library, args.repeats)


if __name__ == "__main__":
    main()
