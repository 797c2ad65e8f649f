"""How much of TradingView's Strategy Tester does `tvdesk parity` reproduce?

    python benchmarks/parity.py --corpus DIR [--jobs 2] [--only PATTERN] [--json OUT]

DIR is a local checkout of a public TradingView-validated corpus laid out as
pineforge-4pass/pineforge-corpus is: `validation/<category>-<slug>/` folders, each with a
`strategy.pine`, TradingView's `tv_trades.csv` ("List of trades", chart times in UTC+8 unless
`inputs.json` says otherwise) and an optional `inputs.json` (script inputs, and which export
to compare when a folder holds several), plus shared bars in `data/`
(Binance ETH-USDT perpetual, 15-minute, with a 1-minute companion for the magnifier and
lower-timeframe probes). The corpus is fetched by whoever runs this; none of it is committed.
A few probes start their bars where TradingView's chart began (CHART_STARTS, with the evidence).

Each probe runs as a trader would run it: `tvdesk parity --script ... --data ... --tv-trades ...`
in a fresh process, with the symbol facts of the corpus's market (tick 0.01, point value 1,
exchange timezone UTC). The script prints matched % of TradingView's trades per category and
overall, how many probes match at 100 % and at >= 99 %, every probe below 99 % with its first
difference, the probes it could not run and why, and the version pins.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SYMBOL_FLAGS = ["--symbol", "BINANCE:ETHUSDT.P", "--mintick", "0.01", "--pointvalue", "1",
                "--currency", "USDT", "--timezone", "UTC"]
TV_TIMEZONES = {"utc_plus_8": "Asia/Shanghai", "utc": "UTC", "": "UTC"}
DEFAULT_TV_TIMEZONE = "Asia/Shanghai"
# inputs.json keys that steer the corpus's own harness; every other key is a script input.
HARNESS_KEYS = {"tv_trades_csv", "tv_trades_csv_tz", "ohlcv_csv", "ohlcv_start_ms",
                "runtime_overrides", "validation_overrides", "expected_tier", "notes",
                "engine_chart_timezone", "input_tf", "script_tf", "bar_magnifier",
                "magnifier_distribution", "magnifier_volume_weighted", "expect_tv_match",
                "expect_tv_match_reason"}
# Where TradingView's chart history starts, for probes whose export shows it and whose
# inputs.json does not say (the corpus gives `ohlcv_start_ms` = 2025-03-31 00:00 UTC on its
# matrix-* probes). TradingView computes every series from the chart's first bar, the daily
# series of request.security included, so an engine fed six months earlier disagrees where an
# indicator has not forgotten its start (EMA 200, a daily MACD). Each start was found by hand
# and checked against the export (README, parity section); the shared bars are used from it.
CHART_STARTS = {
    # EMA 8/21/55/200 stacks: bars from this start reproduce every trade, the warm-up file
    # misses the first four days; the trendmaster probe names the plain bars, which begin
    # 2025-04-20, after its first 12 TradingView trades.
    "composite-trendmaster-three-tier-ema-state-01": 1743379200000,  # 2025-03-31 00:00 UTC
    "composite-4emarsi-quad-ema-stack-01": 1743379200000,
    # Daily MACD(12, 26, 9) histogram of 2025-05-06 must be > 0 and of 2025-05-22 < 0 for
    # TradingView's first two trades: a daily series from 2025-03-30 or -31 gives both, from
    # 2025-04-01 or later the first fails; the six-month warm-up (converged) gives +2.29.
    "mtf-triple-tf-macd-hist-confluence-01": 1743379200000,
    # ATR(14) seeded here gives TradingView's first four exit levels to the tick (1815.08,
    # 1810.86, 1793.66, 1786.99; warm: 1815.89, 1810.63, 1793.54, 1787.02).
    "ta-pivot-atr-stop-target-01": 1743811200000,  # 2025-04-05 00:00 UTC
}
# Probes where TradingView itself is not reproducible; each named with the reason.
ANOMALIES = {
    "anomaly-equity-mirror-strategy-equity-01":
        "TradingView's broker accepts and rejects orders sized at exactly 1x equity "
        "non-deterministically (the corpus documents it); no deterministic engine can match",
}


@dataclass
class Probe:
    name: str
    folder: Path
    tv_trades: Path
    args: list[str]
    skip: str = ""
    label: str = ""

    @property
    def category(self) -> str:
        return self.name.split("-", 1)[0]


@dataclass
class Outcome:
    probe: Probe
    tv_trades: int = 0
    engine_trades: int = 0
    matched: int = 0
    seconds: float = 0.0
    error: str = ""
    first_mismatch: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def percent(self) -> float:
        return 100.0 * self.matched / self.tv_trades if self.tv_trades else 0.0


def _data_file(corpus: Path, minutes: int) -> Path:
    """The warm-up variant when present: indicators then start closer to TradingView's."""
    base = corpus / "data" / f"ohlcv_ETH-USDT-USDT_{minutes}m"
    warm = base.with_name(base.name + "_warmup6m.csv")
    return warm if warm.exists() else base.with_suffix(".csv")


def _trimmed(path: Path, start_ms: int, work: Path) -> Path:
    """A copy of the bars from `start_ms` on: the probe's feed starts there."""
    out = work / f"{path.stem}_from_{start_ms}.csv"
    if not out.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
        keep = [lines[0]] + [line for line in lines[1:] if int(line.split(",", 1)[0]) >= start_ms]
        out.write_text("\n".join(keep) + "\n", encoding="utf-8")
    return out


def _inputs(settings: dict[str, object]) -> list[str]:
    flags: list[str] = []
    for key, value in settings.items():
        if key.startswith("_") or key in HARNESS_KEYS:
            continue
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        flags += ["--input", f"{key}={text}"]
    return flags


def probes(corpus: Path, work: Path, only: str | None) -> list[Probe]:
    found: list[Probe] = []
    for folder in sorted((corpus / "validation").iterdir()):
        script = folder / "strategy.pine"
        if not script.is_file() or (only and not re.search(only, folder.name)):
            continue
        settings: dict[str, object] = {}
        if (folder / "inputs.json").exists():
            settings = json.loads((folder / "inputs.json").read_text(encoding="utf-8"))
        runtime = dict(settings.get("runtime_overrides") or {})  # type: ignore[call-overload]
        data = _data_file(corpus, 15)
        if settings.get("ohlcv_csv") and folder.name not in CHART_STARTS:
            data = (folder / str(settings["ohlcv_csv"])).resolve()
        if settings.get("input_tf") == "1" and settings.get("script_tf"):
            # A 1-minute feed under a 15-minute chart: the chart's bars are the 15-minute
            # file; the minute bars feed request.security_lower_tf.
            lower, data = data, _data_file(corpus, 15)
            extra = ["--security", f"BINANCE:ETHUSDT.P={lower}"] if lower.exists() else []
            skip = "" if lower.exists() else f"needs the 1-minute bars {lower.name}"
        else:
            extra, skip = [], ""
        start_ms = settings.get("ohlcv_start_ms") or CHART_STARTS.get(folder.name)
        if start_ms and data.exists():
            data = _trimmed(data, int(start_ms), work)  # type: ignore[call-overload]
        if runtime.get("bar_magnifier"):
            minute = _data_file(corpus, 1)
            extra += ["--magnifier-data", str(minute)]
            skip = skip or ("" if minute.exists() else f"needs the 1-minute bars {minute.name}")
        if not data.exists():
            skip = skip or f"needs the bars {data.name}"
        tz = TV_TIMEZONES.get(str(settings.get("tv_trades_csv_tz", "utc_plus_8")),
                              DEFAULT_TV_TIMEZONE)
        base = ["--script", str(script), "--data", str(data), *SYMBOL_FLAGS,
                "--tv-timezone", tz, *extra]
        exports = sorted(folder.glob("trades-*.csv"))
        if exports and not (folder / "tv_trades.csv").exists() \
                and not settings.get("tv_trades_csv"):
            # One script, several exports: each names the "Analysis mode" it was taken with.
            for export in exports:
                mode = export.stem.removeprefix("trades-")
                found.append(Probe(folder.name, folder, export,
                                   base + _inputs({**settings, "Analysis mode": mode}), skip,
                                   label=f"{folder.name}[{mode}]"))
            continue
        tv = folder / str(settings.get("tv_trades_csv") or "tv_trades.csv")
        if not tv.exists():
            continue
        found.append(Probe(folder.name, folder, tv, base + _inputs(settings), skip,
                           label=folder.name))
    return found


def run_probe(probe: Probe, work: Path) -> Outcome:
    outcome = Outcome(probe)
    if probe.skip:
        outcome.error = "not run: " + probe.skip
        return outcome
    out = work / f"{probe.label}.json"
    command = [sys.executable, "-m", "tvdesk", "parity", *probe.args,
               "--tv-trades", str(probe.tv_trades), "--json", str(out)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    outcome.seconds = time.perf_counter() - started
    if done.returncode != 0 or not out.exists():
        lines = (done.stderr or done.stdout).strip().splitlines()
        outcome.error = f"exit {done.returncode}: " + (lines[-1] if lines else "no output")
        return outcome
    report = json.loads(out.read_text(encoding="utf-8"))
    outcome.tv_trades = int(report["tv_trades"])
    outcome.engine_trades = int(report["engine_trades"])
    outcome.matched = int(report["matched"])
    first = report.get("first_mismatch")
    if first:
        outcome.first_mismatch = _describe(first)
    return outcome


def _describe(mismatch: dict[str, object]) -> str:
    def side(trade: object) -> str:
        if not isinstance(trade, dict):
            return "none"
        return (f"{trade.get('side')} {trade.get('entry_time')} @ {trade.get('entry_price')} -> "
                f"{trade.get('exit_time')} @ {trade.get('exit_price')}")
    return f"{mismatch['reason']}: TV {side(mismatch['tv'])} | engine {side(mismatch['engine'])}"


def versions() -> dict[str, str]:
    pins = {}
    for package in ("tvdesk", "pynesys-pynecore", "opencode-pine2pyne"):
        try:
            pins[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pins[package] = "not installed"
    return pins


def summarise(outcomes: list[Outcome]) -> dict[str, object]:
    ran = [o for o in outcomes if not o.error]
    counted = [o for o in ran if o.probe.name not in ANOMALIES]
    categories: dict[str, list[Outcome]] = {}
    for o in counted:
        categories.setdefault(o.probe.category, []).append(o)

    def share(group: list[Outcome]) -> tuple[int, int, float]:
        tv = sum(o.tv_trades for o in group)
        matched = sum(o.matched for o in group)
        return matched, tv, (100.0 * matched / tv if tv else 0.0)

    matched, tv, percent = share(counted)
    return {
        "versions": versions(),
        "probes": len(outcomes),
        "ran": len(ran),
        "counted": len(counted),
        "tv_trades": tv,
        "matched": matched,
        "matched_percent": round(percent, 4),
        "probes_at_100": sum(1 for o in counted if o.matched == o.tv_trades),
        "probes_at_99": sum(1 for o in counted if o.percent >= 99.0),
        "categories": {name: dict(zip(("matched", "tv_trades", "percent"), share(group),
                                      strict=True))
                       for name, group in sorted(categories.items())},
        "below_99": [{"probe": o.probe.label, "percent": round(o.percent, 2),
                      "tv": o.tv_trades, "engine": o.engine_trades,
                      "first": o.first_mismatch}
                     for o in sorted(counted, key=lambda o: o.percent) if o.percent < 99.0],
        "anomalies": {o.probe.label: {"percent": round(o.percent, 2),
                                      "reason": ANOMALIES[o.probe.name]}
                      for o in ran if o.probe.name in ANOMALIES},
        "not_run": {o.probe.label: o.error for o in outcomes if o.error},
        "seconds_per_probe": round(sum(o.seconds for o in ran) / len(ran), 2) if ran else None,
    }


def print_summary(summary: dict[str, object]) -> None:
    print("versions: " + ", ".join(f"{k} {v}" for k, v in summary["versions"].items()))  # type: ignore[union-attr]
    print(f"{summary['ran']}/{summary['probes']} probes ran, {summary['counted']} counted "
          f"(documented anomalies apart)")
    print(f"{'category':<12} {'matched':>9} {'TV trades':>10} {'%':>8}")
    for name, row in summary["categories"].items():  # type: ignore[union-attr]
        print(f"{name:<12} {row['matched']:>9} {row['tv_trades']:>10} {row['percent']:>8.2f}")
    print(f"{'overall':<12} {summary['matched']:>9} {summary['tv_trades']:>10} "
          f"{summary['matched_percent']:>8.2f}")
    print(f"probes at 100 %: {summary['probes_at_100']}/{summary['counted']}; "
          f"at >= 99 %: {summary['probes_at_99']}/{summary['counted']}")
    for row in summary["below_99"]:  # type: ignore[union-attr]
        print(f"  below 99 %: {row['probe']} {row['percent']} % "
              f"(TV {row['tv']}, engine {row['engine']}): {row['first']}")
    for name, row in summary["anomalies"].items():  # type: ignore[union-attr]
        print(f"  anomaly: {name} {row['percent']} %: {row['reason']}")
    for name, why in summary["not_run"].items():  # type: ignore[union-attr]
        print(f"  not counted: {name}: {why}")
    print(f"mean seconds per probe (one process each): {summary['seconds_per_probe']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, type=Path, help="corpus checkout")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="probes run at once (default: one per core)")
    parser.add_argument("--only", metavar="REGEX", help="only probes whose folder matches")
    parser.add_argument("--json", metavar="OUT", help="write the summary and every probe")
    args = parser.parse_args(argv)
    if not (args.corpus / "validation").is_dir():
        parser.error(f"{args.corpus} has no validation/ folder: is it the corpus checkout?")
    with tempfile.TemporaryDirectory(prefix="tvdesk-parity-") as tmp:
        work = Path(tmp)
        os.environ.setdefault("TVDESK_HOME", str(work / "home"))
        found = probes(args.corpus, work, args.only)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            outcomes = list(pool.map(lambda p: run_probe(p, work), found))
    summary = summarise(outcomes)
    print_summary(summary)
    if args.json:
        detail = [{"probe": o.probe.label, "tv": o.tv_trades, "engine": o.engine_trades,
                   "matched": o.matched, "seconds": round(o.seconds, 2), "error": o.error,
                   "first": o.first_mismatch} for o in outcomes]
        Path(args.json).write_text(json.dumps({"summary": summary, "probes": detail},
                                              indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
