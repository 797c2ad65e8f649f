"""Runtime hooks that make PyneCore's `request.security` bookkeeping cheaper, results unchanged.

Why: a `request.security` context made a backtest 1.4-1.7x slower than the same strategy on
the chart's own bars (54k bars of 15-minute crypto, a 240-minute or daily EMA), and two
parts of that cost are work PyneCore 6.11 repeats without need:

- The chart works out the scheduled close of every chart bar several times per bar
  (`actual_bar_close` when the bar's round opens and again for each context's as-of,
  `break_end_after` for the same instants), and every one of those rebuilds the session
  schedule of the bar's date from scratch (`_day_session_ends`: each opening-hours interval
  turned into an instant through `datetime.combine(...).timestamp()`). About 0.9 s of a
  4.4 s run. All three are pure functions of their arguments: instants, a timeframe, and a
  calendar that PyneCore builds once per context and then only reads.
- A context on the chart's own symbol at a coarser intraday timeframe is served by
  aggregating the chart's bars file into a temporary file (`_resample_finer_security_feed`,
  PyneCore's own `aggregate_ohlcv`), and that file is removed at the end of every run, so a
  warm worker rebuilt the same file on each run (about 0.3 s for 54k bars).

The hooks remember those results and nothing else:

- `_day_session_ends` per (date, timezone, opening hours) when the symbol has no dated
  session corrections (with corrections the original runs: a dict is no cheap key, and
  such symbols are rare);
- `actual_bar_close` and `break_end_after`: their last few calls, keyed by the arguments and
  the calendar object itself (the entry holds the calendar, so an identity match cannot be
  a new calendar at a reused address);
- `_resample_finer_security_feed`: the aggregated file per source file (its path, size,
  modification time and inode, and the same of the `.toml` whose sessions drive the grid)
  and timeframe, written by the original into a folder of this process that PyneCore does
  not remove; each source version gets a fresh sub-folder, so the original's "already made
  this run" shortcut can never hand back a file of an older source.

A third part is the exchange itself. A context coarser than the chart runs one round per
higher-timeframe bar: the chart wakes the child, the child runs one bar, the chart waits
for it (two process wake-ups per round; 3370 rounds for a 240-minute context on 54k
15-minute bars, about 0.8 s). PyneCore can run a context's whole history as ONE round
instead (its "batch round": the child runs ahead in parallel and the chart pairs each
bar's value out of the ring by the same rule, the context's last bar closing at or before
the chart bar's as-of, `gaps_on` included), but offers it only to contexts at the chart's
own timeframe: for coarser ones it measured a daily context on a 30-minute chart 20 %
slower (few rounds to save, a ring lookup on every bar). For an intraday context coarser
than the chart the rounds are many and the batch wins (240 on 15 minutes: 4.3 s -> 3.4 s),
so `batch_eligible` also says yes to those, under every other condition PyneCore sets (no
live phase, no dependency between contexts, no lookahead_on, no lower timeframe, no
`PYNE_NO_SECURITY_BATCH`), and leaves D/W/M contexts and chart types (Heikin Ashi) on the
per-round path. Checked equal, trades and equity, on 54k bars for `gaps_on`, tuples,
`barstate`/`time` inside the expression and two contexts, and in the tests.

A fourth part is the chart's read of a batched context. Every chart bar asks the ring for
the context's last bar closing at or before its as-of (`RingReader.last_close_at_or_before`),
and every ask takes the ring's `multiprocessing.Condition`, the lock the child holds while
it appends: with the child running its batch beside the chart on a loaded machine, the
chart waited for that lock on most bars (a fifth of a 240-minute run on the bundled EURUSD
hourly bars, sampled). The hook remembers the entry of the last answer together with the
close of the entry after it when that one is already in the ring: the ring is appended in
close order and never changes a published entry, so every as-of from the answer's close up
to (not including) the next entry's close has that same answer, now and later (the ring's
garbage collection keeps the last entry at or below each consumer's as-of). Such an ask is
answered without the lock, from the kept payload bytes unpickled afresh, as PyneCore does
on each read; any other ask is PyneCore's locked lookup.

A fifth part is the script itself. Each security child is a fresh process, so it imports
the strategy afresh on every run, and PyneCore's transform of it (AST passes, 15-50 ms for
a small script on a loaded 2-core machine, before the child's first bar, while the chart
waits) is kept only as CPython bytecode, which a process started with
`PYTHONDONTWRITEBYTECODE` (or `-B`) never writes: the chart re-transformed the script on
every run too (5-10 ms). `import_script` therefore writes the script's bytecode even then,
where CPython would (`sys.pycache_prefix` or `__pycache__` beside the script: the worker's
scratch folder, which its untrusted code can already write, being where the script itself
lies); PyneCore checks such bytecode against its transform pipeline before using it and
CPython against the source's size and time, exactly as when bytecode is written anyway.

Each original stays reachable as `.original` on its hook. Applied once per process, in the
worker before a run and in the forkserver that starts the security children.
"""

from __future__ import annotations

import atexit
import hashlib
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

_PATCH_MARK = "_tvdesk_speedup"
# A run touches few distinct dates and instants per bar: the date cache holds a calendar's
# worth, the recent-call caches only bridge the repeated calls of one chart bar.
DATES_LIMIT = 8192
RECENT_LIMIT = 8
# Aggregated files kept: more than the distinct (source, timeframe) pairs of one run can
# need (PyneCore allows 64 contexts), so a file is never dropped while its run reads it.
RESAMPLED_LIMIT = 64
# Where a ring reader keeps its last answer: (close, next entry's close, open, payload).
_LAST_CLOSE_ATTR = "_tvdesk_last_close"


def memo_day_session_ends(original: Callable[..., Any]) -> Callable[..., Any]:
    """`_day_session_ends` remembered per (date, timezone, opening hours) without corrections."""
    cache: dict[tuple[Any, ...], Any] = {}

    def _day_session_ends(open_date: Any, tz: Any, opening_hours: Any,
                          corrections: Any = None) -> Any:
        if corrections:
            return original(open_date, tz, opening_hours, corrections)
        key = (open_date, tz, tuple(opening_hours))
        found = cache.get(key)
        if found is None:
            if len(cache) >= DATES_LIMIT:
                cache.clear()
            found = cache[key] = original(open_date, tz, opening_hours, corrections)
        return found

    return _day_session_ends


def memo_by_calendar(original: Callable[..., Any], calendar_at: int) -> Callable[..., Any]:
    """`original`'s last few results; its positional argument `calendar_at` is a calendar
    object, compared by identity."""
    cache: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    def memo(*args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) <= calendar_at:
            return original(*args, **kwargs)
        calendar = args[calendar_at]
        key = (*args[:calendar_at], id(calendar), *args[calendar_at + 1:])
        found = cache.get(key)
        if found is not None and found[0] is calendar:
            return found[1]
        result = original(*args)
        if len(cache) >= RECENT_LIMIT:
            cache.clear()
        cache[key] = (calendar, result)
        return result

    return memo


def _file_version(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def memo_resample(original: Callable[..., str]) -> Callable[..., str]:
    """`_resample_finer_security_feed` that keeps each aggregated file for later runs."""
    made: dict[tuple[Any, ...], str] = {}
    root: list[Path] = []

    def _resample_finer_security_feed(data_path: str, target_tf: str,
                                      tmp_dir_holder: list[str]) -> str:
        source = Path(data_path)
        try:
            key = (str(source.resolve()), _file_version(source),
                   _file_version(source.with_suffix(".toml")), str(target_tf))
        except OSError:  # no file, or no .toml: the original decides what that means
            return original(data_path, target_tf, tmp_dir_holder)
        found = made.get(key)
        if found is not None and Path(found).exists():
            return found
        if not root:
            root.append(Path(tempfile.mkdtemp(prefix="tvdesk-resampled-")))
            atexit.register(shutil.rmtree, root[0], ignore_errors=True)
        folder = root[0] / hashlib.sha256(repr(key).encode()).hexdigest()[:20]
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        out = original(data_path, target_tf, [str(folder)])
        if out == data_path:  # nothing to aggregate: the original keeps its feed
            shutil.rmtree(folder, ignore_errors=True)
            return out
        # One version per source and timeframe: a rewritten source replaces the older
        # file (no run reads both); past the limit the oldest go, never this run's.
        for old_key in [k for k in made if k[0] == key[0] and k[3] == key[3]]:
            _forget(made, old_key, root[0])
        while len(made) >= RESAMPLED_LIMIT:
            _forget(made, next(iter(made)), root[0])
        made[key] = out
        return out

    return _resample_finer_security_feed


def _forget(made: dict[tuple[Any, ...], str], key: tuple[Any, ...], root: Path) -> None:
    path = Path(made.pop(key))
    if path.parent.parent == root:
        shutil.rmtree(path.parent, ignore_errors=True)


def batch_coarser_intraday(original: Callable[..., bool]) -> Callable[..., bool]:
    """`batch_eligible` that also batches intraday contexts coarser than the chart."""

    def batch_eligible(state: Any, sec_id: str, *, is_live: bool) -> bool:
        if original(state, sec_id, is_live=is_live):
            return True
        if (state.same_timeframe or state.is_dwm or state.is_ltf or state.plain_ltf
                or state.chart_type is not None):
            return False
        # PyneCore's other conditions, asked of the context as if at the chart's timeframe.
        state.same_timeframe = True
        try:
            return bool(original(state, sec_id, is_live=is_live))
        finally:
            state.same_timeframe = False

    return batch_eligible


def memo_last_close(original: Callable[..., Any]) -> Callable[..., Any]:
    """`RingReader.last_close_at_or_before` answering from the last answer's close interval."""

    def last_close_at_or_before(self: Any, ms: int) -> Any:
        kept = getattr(self, _LAST_CLOSE_ATTR, None)
        if kept is not None and kept[0] <= ms < kept[1]:
            return kept[2], kept[0], pickle.loads(kept[3])
        try:
            cond, attach, sync, sec_id = self._cond, self._attach, self._sync, self._sec_id
        except AttributeError:  # another PyneCore: its own lookup
            return original(self, ms)
        with cond:
            block = attach()
            if block is None:
                return None
            count, head, _ = sync.get_ring_state(sec_id)
            if count == 0:
                return None
            pos = self._bisect_close(block, head, count, ms) - 1
            if pos < 0:
                return None
            open_ms, close_ms, offset, length = block.read_entry(head + pos)
            payload = block.read_payload(offset, length)
            if pos + 1 < count:
                next_close = block.read_entry(head + pos + 1)[1]
                setattr(self, _LAST_CLOSE_ATTR, (close_ms, next_close, open_ms, payload))
        return open_ms, close_ms, pickle.loads(payload)

    return last_close_at_or_before


def keep_script_bytecode(original: Callable[..., Any]) -> Callable[..., Any]:
    """`import_script` that writes the script's bytecode even under `dont_write_bytecode`."""

    def import_script(*args: Any, **kwargs: Any) -> Any:
        if not sys.dont_write_bytecode:
            return original(*args, **kwargs)
        sys.dont_write_bytecode = False
        try:
            return original(*args, **kwargs)
        finally:
            sys.dont_write_bytecode = True

    return import_script


def apply() -> bool:
    """Install the hooks (idempotent); True when this call installed them."""
    from pynecore.core import script_runner, security, security_shm

    if getattr(security.actual_bar_close, _PATCH_MARK, False):
        return False
    hooks: list[tuple[Any, str, Callable[..., Any]]] = [
        (security, "_day_session_ends", memo_day_session_ends(security._day_session_ends)),
        # actual_bar_close(open_ms, next_open_ms, cal, timeframe)
        (security, "actual_bar_close", memo_by_calendar(security.actual_bar_close, 2)),
        # break_end_after(ms, cal)
        (security, "break_end_after", memo_by_calendar(security.break_end_after, 1)),
        (script_runner, "_resample_finer_security_feed",
         memo_resample(script_runner._resample_finer_security_feed)),
        # Looked up on the module by the runner at each run's setup.
        (security, "batch_eligible", batch_coarser_intraday(security.batch_eligible)),
        # A method: every reader, made during a run, finds it on the class.
        (security_shm.RingReader, "last_close_at_or_before",
         memo_last_close(security_shm.RingReader.last_close_at_or_before)),
        # Looked up on the module by the chart's runner and, inside its entry function, by
        # each security child.
        (script_runner, "import_script", keep_script_bytecode(script_runner.import_script)),
    ]
    for module, name, hook in hooks:
        original = getattr(module, name)
        hook.__doc__ = original.__doc__
        hook.__dict__.update({"original": original, _PATCH_MARK: True})
        setattr(module, name, hook)
    return True


