"""The request.security speedups remember results, or batch rounds, and change no value.

Each hook is checked against the PyneCore function it wraps, and whole backtests with
higher-timeframe contexts (a 24-hour crypto chart with 240-minute, `gaps_on` hourly,
another symbol's hourly and daily contexts; a stock's 30-minute chart in its session with
an hourly and a daily context) must give the same trades and equity with the hooks as with
PyneCore's own functions (per-round exchange included), also on a second run in the same
process (the aggregated 240-minute file then comes from the cache).
"""

from __future__ import annotations

import math
import sys
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tvdesk.engines.local import security_speedups
from tvdesk.engines.local.backtest import BacktestContext, run_backtest
from tvdesk.model import BacktestRequest, BacktestResult, SymbolSpec
from tvdesk.pine.loader import load_strategy_source
from tvdesk.pine.transpile import TranspileCache

from engine_helpers import write_bars

MINUTE_MS = 60_000


def _hours(spans: list[tuple[int, time, time]]) -> list[Any]:
    from pynecore.core.syminfo import SymInfoInterval

    return [SymInfoInterval(day=day, start=start, end=end) for day, start, end in spans]


SCHEDULES = {
    "24h": _hours([(d, time(0, 0), time(23, 59, 59)) for d in range(7)]),
    "stock": _hours([(d, time(9, 30), time(16, 0)) for d in range(5)]),
    "overnight": _hours([(d, time(17, 0), time(16, 0)) for d in range(6)]),  # FX-like
}


# -------------------------------------------------------------------------- the hooks


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_day_session_ends_equal_pynecores_on_every_date(schedule: str, zone: str) -> None:
    from pynecore.core import security

    original = getattr(security._day_session_ends, "original", security._day_session_ends)
    memo = security_speedups.memo_day_session_ends(original)
    tz = ZoneInfo(zone)
    hours = SCHEDULES[schedule]
    day = date(2024, 3, 1)  # across New York's DST change
    for _ in range(2):  # the second pass answers from the cache
        for offset in range(60):
            current = day + timedelta(days=offset)
            assert memo(current, tz, list(hours), None) == original(current, tz, hours, None)


def test_day_session_ends_with_corrections_always_ask_pynecore() -> None:
    calls: list[Any] = []

    def original(*args: Any) -> tuple[Any, ...]:
        calls.append(args)
        return (len(calls),)

    memo = security_speedups.memo_day_session_ends(original)
    corrections = {date(2024, 7, 3): tuple(SCHEDULES["stock"][:1])}
    assert memo(date(2024, 7, 3), None, SCHEDULES["stock"], corrections) == (1,)
    assert memo(date(2024, 7, 3), None, SCHEDULES["stock"], corrections) == (2,)
    assert memo(date(2024, 7, 3), None, SCHEDULES["stock"], None) == (3,)
    assert memo(date(2024, 7, 3), None, SCHEDULES["stock"], {}) == (3,)  # cached: no call


def test_calendar_results_are_kept_per_calendar_object() -> None:
    from pynecore.core.security import BarCalendar

    calls: list[Any] = []

    def original(open_ms: int, next_open_ms: int, cal: Any, timeframe: str) -> int:
        calls.append(cal)
        return open_ms + len(cal.opening_hours)

    memo = security_speedups.memo_by_calendar(original, 2)
    one = BarCalendar(opening_hours=tuple(SCHEDULES["24h"]))
    assert memo(0, 0, one, "15") == memo(0, 0, one, "15") == 7
    assert len(calls) == 1
    # An equal-looking but different calendar, or other arguments, ask again.
    other = BarCalendar(opening_hours=tuple(SCHEDULES["stock"]))
    assert memo(0, 0, other, "15") == 5
    assert memo(0, 0, one, "60") == 7
    assert memo(1, 0, one, "15") == 8
    assert len(calls) == 4
    assert memo(0, 0, cal=one, timeframe="15") == 7  # keywords: passed straight through
    assert len(calls) == 5


def test_pynecore_calendar_functions_equal_the_hooks() -> None:
    from pynecore.core import security
    from pynecore.core.security import BarCalendar

    def unhooked(name: str) -> Any:
        function = getattr(security, name)
        return getattr(function, "original", function)

    close = security_speedups.memo_by_calendar(unhooked("actual_bar_close"), 2)
    extend = security_speedups.memo_by_calendar(unhooked("break_end_after"), 1)
    tz = ZoneInfo("America/New_York")
    for hours in SCHEDULES.values():
        cal = BarCalendar(tz=tz, opening_hours=tuple(hours))
        start = 1_709_290_800_000  # 2024-03-01 11:00 UTC
        for i in range(0, 3000, 7):
            open_ms = start + i * 15 * MINUTE_MS
            for timeframe in ("15", "60", "1D"):
                expected = unhooked("actual_bar_close")(open_ms, 0, cal, timeframe)
                assert close(open_ms, 0, cal, timeframe) == expected
                assert close(open_ms, 0, cal, timeframe) == expected
            assert extend(open_ms, cal) == unhooked("break_end_after")(open_ms, cal)


def _fake_resample(calls: list[str]) -> Any:
    """Stands in for PyneCore's: writes the source's text into the run's folder."""

    def original(data_path: str, target_tf: str, holder: list[str]) -> str:
        calls.append(data_path)
        if target_tf == "same":
            return data_path
        out = Path(holder[0]) / f"{Path(data_path).stem}__{target_tf}.ohlcv"
        if not out.exists():  # PyneCore's own reuse inside one run
            out.write_text(Path(data_path).read_text())
        return str(out)

    return original


def test_an_aggregated_file_is_made_once_per_source_version(tmp_path: Path) -> None:
    calls: list[str] = []
    memo = security_speedups.memo_resample(_fake_resample(calls))
    source = tmp_path / "chart.ohlcv"
    source.write_text("first")
    source.with_suffix(".toml").write_text("")
    holder: list[str] = []
    made = memo(str(source), "240", holder)
    assert Path(made).read_text() == "first"
    assert memo(str(source), "240", holder) == made
    assert len(calls) == 1 and holder == []  # PyneCore's per-run folder is not used
    # The source is rewritten (a new chart file): a fresh file, the old one is gone.
    source.write_text("second, longer")
    again = memo(str(source), "240", holder)
    assert Path(again).read_text() == "second, longer"
    assert not Path(made).exists() and len(calls) == 2
    # Nothing to aggregate: the original's answer, nothing kept.
    assert memo(str(source), "same", holder) == str(source)
    # No .toml beside it: the original decides, with PyneCore's own folder.
    bare = tmp_path / "bare.ohlcv"
    bare.write_text("x")
    holder.append(str(tmp_path))
    assert memo(str(bare), "240", holder) == str(tmp_path / "bare__240.ohlcv")


def test_batch_rounds_are_offered_to_coarser_intraday_contexts_only() -> None:
    from types import SimpleNamespace

    asked: list[bool] = []

    def original(state: Any, sec_id: str, *, is_live: bool) -> bool:
        asked.append(state.same_timeframe)
        return state.same_timeframe and not is_live and not state.depends

    eligible = security_speedups.batch_coarser_intraday(original)

    def context(**fields: Any) -> Any:
        values = {"same_timeframe": False, "is_dwm": False, "is_ltf": False,
                  "plain_ltf": False, "chart_type": None, "depends": set()}
        return SimpleNamespace(**{**values, **fields})

    coarser = context()
    assert eligible(coarser, "s", is_live=False)
    assert coarser.same_timeframe is False  # asked as if at the chart's timeframe, restored
    assert not eligible(coarser, "s", is_live=True)  # PyneCore's own conditions still hold
    assert not eligible(context(depends={"other"}), "s", is_live=False)
    asked.clear()
    for other in (context(is_dwm=True), context(is_ltf=True), context(plain_ltf=True),
                  context(chart_type="heikinashi")):
        assert not eligible(other, "s", is_live=False)
    assert asked == [False] * 4  # PyneCore's answer only, never widened
    assert eligible(context(same_timeframe=True), "s", is_live=False)


# -------------------------------------------------------------------------- whole runs

STRATEGY = """//@version=6
strategy("htf cross", overlay=true, default_qty_type=strategy.fixed, default_qty_value=1)
fast = request.security(syminfo.tickerid, "{fast}", ta.ema(close, 5))
slow = request.security(syminfo.tickerid, "D", ta.sma(close, 3))
{extra}
if ta.crossover(fast, slow)
    strategy.entry("L", strategy.long)
if ta.crossunder(fast, slow)
    strategy.entry("S", strategy.short)
"""


def _wave(n: int) -> list[tuple[float, float, float, float]]:
    rows = []
    price = 100.0
    for i in range(n):
        close = 100 + 20 * math.sin(i / 37) + 7 * math.sin(i / 5.3)
        rows.append((price, max(price, close) + 1, min(price, close) - 1, close))
        price = close
    return rows


# A gaps_on hourly context and another symbol's hourly context, both coarser than 15 minutes,
# decide entries beside the crossing (an entry only where the hourly value is not na).
EXTRA_CRYPTO = """
gapped = request.security(syminfo.tickerid, "60", ta.sma(close, 4), gaps=barmerge.gaps_on)
other = request.security("BINANCE:BTCUSDT", "60", ta.ema(close, 3))
if not na(gapped) and close > other and strategy.position_size <= 0
    strategy.entry("G", strategy.long)
"""


def _runs(tmp_path: Path, data: Path, symbol: SymbolSpec, fast: str,
          monkeypatch: pytest.MonkeyPatch, extra: str = "",
          **fields: Any) -> list[BacktestResult]:
    from pynecore.core import script_runner, security, security_shm

    cache = TranspileCache(tmp_path / "transpiled")
    pine = STRATEGY.format(fast=fast, extra=extra)
    request = BacktestRequest(strategy=load_strategy_source(pine, cache=cache),
                              data_path=str(data), symbol=symbol, **fields)
    context = BacktestContext(cache)
    hooked = [run_backtest(request, context), run_backtest(request, context)]
    with monkeypatch.context() as patch:
        patch.setattr(security_speedups, "apply", lambda: False)
        for module, name in ((security, "_day_session_ends"), (security, "actual_bar_close"),
                             (security, "break_end_after"), (security, "batch_eligible"),
                             (script_runner, "_resample_finer_security_feed"),
                             (script_runner, "import_script"),
                             (security_shm.RingReader, "last_close_at_or_before")):
            function = getattr(module, name)
            assert getattr(function, "original", None) is not None  # the run installed it
            patch.setattr(module, name, function.original)
        plain = run_backtest(request, BacktestContext(cache))
    return [*hooked, plain]


def _same(results: list[BacktestResult]) -> None:
    first = results[0]
    assert len(first.trades) > 5  # the market makes the contexts matter
    for other in results[1:]:
        assert other.trades == first.trades
        assert other.equity_curve == first.equity_curve
        assert repr(other.metrics) == repr(first.metrics)  # repr: a NaN equals itself


def test_a_crypto_chart_with_240_and_daily_contexts_runs_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_bars(tmp_path / "eth_15.csv", _wave(20 * 96), 15 * MINUTE_MS)
    other = write_bars(tmp_path / "btc_15.csv",
                       [tuple(round(p + 5, 2) for p in row) for row in _wave(20 * 96 + 40)[40:]],
                       15 * MINUTE_MS)
    symbol = SymbolSpec(ticker="BINANCE:ETHUSDT", mintick=0.01, pointvalue=1.0)
    results = _runs(tmp_path, data, symbol, "240", monkeypatch, EXTRA_CRYPTO,
                    security=(("BINANCE:BTCUSDT", str(other)),))
    _same(results)
    assert any(t.entry_signal == "G" for t in results[0].trades)


def test_a_stock_in_its_session_with_hourly_and_daily_contexts_runs_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 30-minute bars from 09:30 to 15:30 New York on 30 weekdays.
    from datetime import datetime

    tz = ZoneInfo("America/New_York")
    lines = ["time,open,high,low,close,volume"]
    rows = iter(_wave(30 * 13))
    day = date(2024, 2, 26)
    while len(lines) < 1 + 30 * 13:
        if day.weekday() < 5:
            for k in range(13):
                stamp = datetime(day.year, day.month, day.day, 9, 30, tzinfo=tz) \
                    + timedelta(minutes=30 * k)
                o, h, lo, c = next(rows)
                lines.append(f"{int(stamp.timestamp())},{o},{h},{lo},{c},1000")
        day += timedelta(days=1)
    data = tmp_path / "abc_30.csv"
    data.write_text("\n".join(lines) + "\n")
    symbol = SymbolSpec(ticker="NASDAQ:ABC", mintick=0.01, pointvalue=1.0,
                        timezone="America/New_York", session="0930-1600")
    _same(_runs(tmp_path, data, symbol, "60", monkeypatch))


def test_a_confined_worker_runs_a_240_context_twice_with_the_same_trades(
        tmp_path: Path) -> None:
    # The aggregated 240-minute file is kept in the worker's temporary folder, the only place
    # besides its scratch folder that a confined worker may write; the second run reads it.
    import asyncio

    from tvdesk.engines.local import LocalEngine

    data = write_bars(tmp_path / "eth_15.csv", _wave(10 * 96), 15 * MINUTE_MS)
    request = BacktestRequest(strategy=load_strategy_source(STRATEGY.format(fast="240",
                                                                            extra="")),
                              data_path=str(data),
                              symbol=SymbolSpec(ticker="BINANCE:ETHUSDT", mintick=0.01,
                                                pointvalue=1.0))

    async def twice() -> tuple[list[BacktestResult], str]:
        async with LocalEngine(processes=1) as engine:
            runs = [await engine.run(request), await engine.run(request)]
            return runs, engine.pool.confinement

    (first, second), confinement = asyncio.run(twice())
    print(confinement)  # "confined: Landlock ..." where the kernel offers it
    assert len(first.trades) > 5
    assert second.trades == first.trades
    in_process = run_backtest(request, BacktestContext(TranspileCache(tmp_path / "t")))
    assert in_process.trades == first.trades


# ------------------------------------------------------------------- the security children


def test_a_security_child_starts_with_the_transformers_and_profiler_imported() -> None:
    # What a child used to import itself on every run (security_preload.CHILD_MODULES and the
    # transformer package) comes from the forkserver; the child only reports its modules
    # (`exec` is a builtin, so nothing of the checking script is imported in the child). In a
    # fresh interpreter: a forkserver another test started earlier in this process would
    # keep the preload it was started with.
    import subprocess
    import sys

    check = """
import json, sys
from pynecore.core import security_mp
from tvdesk.engines.local import security_preload
from tvdesk.engines.local.security_feeds import preload_security_children
if security_mp.START_METHOD != "forkserver":
    print(json.dumps(None)); sys.exit()
preload_security_children()
security_mp.preload_in_forkserver("pynecore.core.security_process")
queue = security_mp.mp_context.Queue()
wanted = [*security_preload.CHILD_MODULES, "pynecore.transformers.pipeline",
          "pynecore.transformers.security_slice", "pynecore.transformers.series"]
child = security_mp.mp_context.Process(
    target=exec, args=("import sys; q.put([m for m in w if m in sys.modules])",
                       {"q": queue, "w": wanted}))
child.start()
found = queue.get(timeout=60)
child.join(timeout=60)
print(json.dumps([wanted, found]))
"""
    import json

    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    if answer is None:
        pytest.skip("children are spawned, not forked from a preloaded server")
    wanted, found = answer
    assert found == wanted and "pynecore.transformers.pipeline" in found


def test_a_scripts_transform_is_kept_as_bytecode_even_under_dont_write_bytecode(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A security child imports the script afresh on every run: with its bytecode kept, the
    # import reads it instead of running PyneCore's transform again; the module is the same.
    from pynecore.core import import_hook, script_runner

    security_speedups.apply()
    cache = TranspileCache(tmp_path / "transpiled")
    context = BacktestContext(cache, scratch=tmp_path / "scratch")
    source = STRATEGY.format(fast="240", extra="")
    strategy = load_strategy_source(source, cache=cache)
    script = context.script_path(context.transpiles.get(strategy.source))
    transforms: list[str] = []
    original_transform = import_hook.PyneLoader.source_to_code

    def counted(self: Any, data: Any, path: Any, *args: Any, **kwargs: Any) -> Any:
        transforms.append(str(path))
        return original_transform(self, data, path, *args, **kwargs)

    monkeypatch.setattr(import_hook.PyneLoader, "source_to_code", counted)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    modules = [script_runner.import_script(script) for _ in range(3)]
    assert transforms == [str(script)]  # transformed once, then read from the bytecode
    assert sys.dont_write_bytecode  # the process's own setting is back
    codes = [module.main.__code__.co_code for module in modules]
    assert codes[1] == codes[2] == codes[0]
    with monkeypatch.context() as patch:  # PyneCore's own import: no bytecode written
        patch.setattr(script_runner, "import_script", script_runner.import_script.original)
        other = context.script_path(context.transpiles.get(
            load_strategy_source(STRATEGY.format(fast="60", extra=""), cache=cache).source))
        script_runner.import_script(other)
        script_runner.import_script(other)
    assert transforms.count(str(other)) == 2


def test_a_ring_read_answers_as_pynecores_lookup_while_the_ring_fills_and_grows() -> None:
    # A writer appends (equal closes included, growing its block twice) while two readers
    # ask for every as-of around the closes: the hooked one must answer exactly as PyneCore's.
    from pynecore.core.security_mp import mp_context
    from pynecore.core.security_shm import RingReader, RingWriter, SyncBlock

    original = getattr(RingReader.last_close_at_or_before, "original",
                       RingReader.last_close_at_or_before)
    hooked = security_speedups.memo_last_close(original)
    sid = "sec·speedup·ring"
    sync = SyncBlock([sid])
    condition = mp_context.Condition()
    writer = RingWriter(sid, sync, condition, capacity=2)
    plain, memo = RingReader(sid, sync, condition), RingReader(sid, sync, condition)
    closes = [10, 20, 20, 30, 50, 50, 50, 80, 90, 130]
    try:
        assert hooked(memo, 5) is None and original(plain, 5) is None  # nothing yet
        for n, close in enumerate(closes):
            writer.append(close - 10, close, [n, close])
            for ms in range(0, 140, 5):
                assert hooked(memo, ms) == original(plain, ms), (close, ms)
        kept = getattr(memo, security_speedups._LAST_CLOSE_ATTR)
        assert kept[0] < kept[1]  # an interval was kept and answered from
        first, second = hooked(memo, 95), hooked(memo, 95)
        assert first == second and first[2] is not second[2]  # a fresh value each read
    finally:
        plain.close()
        memo.close()
        writer.close()
        writer.unlink()
        sync.close()
        sync.unlink()


def test_the_forkserver_runs_the_main_module_once_for_all_security_children(
        tmp_path: Path) -> None:
    # multiprocessing re-runs the parent's main module in every child (as `__mp_main__`);
    # with its path handed to the security forkserver, the server runs it once instead.
    import os
    import subprocess

    count = tmp_path / "runs"
    main = tmp_path / "main_script.py"
    main.write_text(
        "import os\n"
        "with open(os.environ['COUNT_FILE'], 'a') as f:\n"
        "    f.write('x')\n"
        "def main():\n"
        "    from pynecore.core import security_mp\n"
        "    from tvdesk.engines.local.security_feeds import preload_security_children\n"
        "    preload_security_children()\n"
        "    security_mp.preload_in_forkserver('pynecore.core.security_process')\n"
        "    for _ in range(3):\n"
        "        child = security_mp.mp_context.Process(target=os.getpid)\n"
        "        child.start()\n"
        "        child.join(60)\n"
        "        assert child.exitcode == 0, child.exitcode\n"
        "if __name__ == '__main__':\n"
        "    main()\n")
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "COUNT_FILE": str(count),
           "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    env.pop("TVDESK_SECURITY_MAIN_PATH", None)
    done = subprocess.run([sys.executable, str(main)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    from pynecore.core import security_mp

    if security_mp.START_METHOD != "forkserver":
        pytest.skip("children are spawned, not forked from a preloaded server")
    assert count.read_text() == "xx"  # the script itself and the server; before: one per child
