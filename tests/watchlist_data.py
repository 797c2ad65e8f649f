"""Charts made for the watchlist tests: a run in a private TVDESK_HOME, slices of the bundled
EURUSD series, and price series built so that one chart rewards a curve fit.

The "slot" strategy buys at bar `slot * 20` and sells ten bars later (fills at the next open);
`slot_chart` holds the price flat except for a step of `moves[slot]` from bar slot*20+5 to
slot*20+15, so the trade of slot k on that chart earns exactly moves[k] per unit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"
GOOG = ROOT / "resources" / "data" / "GOOG_1d.csv"
SMA = ROOT / "pine" / "examples" / "sma_cross.pine"

SLOT_PINE = """//@version=6
strategy("slot", overlay=true, default_qty_type=strategy.fixed, default_qty_value=1,
         initial_capital=10000)
slot = input.int(1, "Slot", minval=1, maxval=4)
if bar_index == slot * 20
    strategy.entry("L", strategy.long)
if bar_index == slot * 20 + 10
    strategy.close("L")
"""

# Per chart, the profit of slot 1..4. Slot 1 is a curve fit of chart A; each chart has its own
# best slot (1, 2, 4) and slot 3 is the only one that earns on every chart.
CURVE_FIT_MOVES = {
    "TEST:AAA": (50.0, -5.0, 10.0, -5.0),
    "TEST:BBB": (-20.0, 15.0, 10.0, -5.0),
    "TEST:CCC": (-20.0, -5.0, 10.0, 15.0),
}


def run(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`tvdesk ARGS` with its own TVDESK_HOME (so its own market data library)."""
    return subprocess.run([sys.executable, "-m", "tvdesk", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout, env=env(home))


def env(home: Path) -> dict[str, str]:
    return {**os.environ, "TVDESK_HOME": str(home), "PYTHONPATH": str(ROOT)}


def slice_csv(source: Path, target: Path, first: int, last: int, *,
              scale: float = 1.0) -> Path:
    """Data lines first..last (1-based, header excluded) of a CSV, prices times `scale`."""
    lines = source.read_text().splitlines()
    rows = lines[first:last + 1]
    if scale != 1.0:
        scaled = []
        for row in rows:
            cells = row.split(",")
            cells[1:5] = [f"{float(c) * scale:.5f}" for c in cells[1:5]]
            scaled.append(",".join(cells))
        rows = scaled
    target.write_text("\n".join([lines[0], *rows]) + "\n")
    return target


def slot_chart(target: Path, moves: Sequence[float], *, bars: int = 150,
               start: int = 1_600_000_000) -> Path:
    """Hourly flat bars at 100 with the step of `moves[k-1]` around slot k's trade."""
    level = [100.0] * bars
    for k, move in enumerate(moves, start=1):
        for i in range(k * 20 + 5, k * 20 + 15):
            level[i] = 100.0 + move
    start -= start % 3600
    lines = ["time,open,high,low,close,volume"]
    lines += [f"{start + 3600 * i},{p:.2f},{p:.2f},{p:.2f},{p:.2f},1" for i, p in
              enumerate(level)]
    target.write_text("\n".join(lines) + "\n")
    return target
