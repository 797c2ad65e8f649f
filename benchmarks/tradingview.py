"""How fast the TradingView engine drives a browser, against the local fake TradingView site.

Run: `python benchmarks/tradingview.py [--runs N]`. It starts the fake site (tests/
fake_tradingview, real Monaco from npm) and headless Chromium (TVDESK_BROWSER or `chromium`),
with pacing switched off, and reports: start (browser + sign-in with 2FA), the first run
(chart, interval, Pine Editor, add to chart, fresh report, export, read and verify), runs that
only change inputs (settings dialog), two pages in parallel, and the browser's memory (PSS).
The fake site answers at once but holds each report back 0.6 s, as a busy TradingView does
(more, in truth): real runs are slower, and real pacing (10–25 s between runs) dominates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from tvdesk.app.requests import RunOptions, build_request  # noqa: E402
from tvdesk.config import TradingViewSettings  # noqa: E402
from tvdesk.engines.tradingview import TradingViewEngine  # noqa: E402
from tvdesk.engines.tradingview.session import Credentials  # noqa: E402

from fake_tradingview import FakeTradingView, ensure_monaco  # noqa: E402

SMA = ROOT / "pine" / "examples" / "sma_cross.pine"


def request(fast: int):
    return build_request(RunOptions(script=str(SMA), symbol="FX:EURUSD", timeframe="60",
                                    inputs=(f"Fast Length={fast}",)), engine="tradingview")


def browser_memory_mb(profile_marker: str) -> float:
    """Proportional memory (PSS: shared pages split between the processes sharing them) of
    the Chromium using this run's profile and all its child processes (Linux /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    roots: set[int] = set()
    for name in filter(str.isdigit, os.listdir("/proc")):
        pid = int(name)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        rss[pid] = next((int(line.split()[1]) for line in rollup.splitlines()
                         if line.startswith("Pss:")), 0)
        if profile_marker in cmdline and "--type=" not in cmdline and "chrom" in cmdline:
            roots.add(pid)
    family = set(roots)
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in family and pid not in family:
                family.add(pid)
                changed = True
    return sum(rss.get(pid, 0) for pid in family) / 1024


async def measure(fake: FakeTradingView, browser: str, runs: int) -> dict[str, float]:
    settings = TradingViewSettings(browser=browser, pause_seconds=(0.0, 0.0),
                                   runs_per_hour=10_000)
    credentials = Credentials(fake.username, fake.password, fake.totp_secret)
    out: dict[str, float] = {}
    engine = TradingViewEngine(settings, credentials=lambda: credentials,
                               notify=lambda _m: None)
    try:
        t0 = time.perf_counter()
        await engine.start()
        out["start_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await engine.run(request(10))
        out["first_run_s"] = time.perf_counter() - t0
        times = []
        for i in range(runs):
            t0 = time.perf_counter()
            await engine.run(request(11 + i))
            times.append(time.perf_counter() - t0)
        out["inputs_run_s"] = statistics.median(times)
        out["browser_mb"] = browser_memory_mb(os.environ["TVDESK_HOME"])
    finally:
        await engine.close()
    engine = TradingViewEngine(settings, credentials=lambda: credentials, pages=2,
                               notify=lambda _m: None)
    try:
        await engine.start()
        await asyncio.gather(engine.run(request(10)), engine.run(request(12)))  # load script
        t0 = time.perf_counter()
        await asyncio.gather(*(engine.run(request(20 + i)) for i in range(runs)))
        out["two_pages_runs_per_min"] = runs / (time.perf_counter() - t0) * 60
    finally:
        await engine.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args()
    browser = os.environ.get("TVDESK_BROWSER") or shutil.which("chromium") or ""
    if not browser:
        sys.exit("no Chromium: set TVDESK_BROWSER")
    with tempfile.TemporaryDirectory(prefix="tvdesk-bench-") as home:
        os.environ["TVDESK_HOME"] = home
        with FakeTradingView(monaco_dir=ensure_monaco()) as fake:
            os.environ["TVDESK_TRADINGVIEW_URL"] = fake.base_url
            result = asyncio.run(measure(fake, browser, args.runs))
    print(f"start (browser + sign-in with 2FA): {result['start_s']:.2f} s")
    print(f"first run (chart, editor, add, report, export, verify): "
          f"{result['first_run_s']:.2f} s")
    print(f"inputs-only run (settings dialog, fresh report, export), median of {args.runs}: "
          f"{result['inputs_run_s']:.2f} s  ({60 / result['inputs_run_s']:.0f} runs/min "
          "without pacing)")
    print(f"two pages in parallel: {result['two_pages_runs_per_min']:.0f} runs/min")
    print(f"browser memory (all Chromium processes, one page, the chart and Monaco open): "
          f"{result['browser_mb']:.0f} MB PSS")


if __name__ == "__main__":
    main()
