"""The market data library: every chart's bars the user registered, by symbol and timeframe.

`tvdesk data add FILE... --symbol S` reads chart-data CSVs (TradingView's "Export chart data"
and the other layouts `load_bars` knows), and keeps one series per (symbol, timeframe) in the
platform's data folder. A newer export that overlaps an older one is merged into it: the newer
file's bars win where both have a bar (TradingView's last bar of an export is often still
forming), and bars only the older file has are kept. An overlap whose prices disagree with the
library's is refused, because that is nearly always a file of another symbol or another price
feed given the wrong `--symbol`, and a merge would silently corrupt the series.

A series file never changes once written: adding bars writes a new version (named by its
content) and the entry points to it, so a run that started on the old version keeps reading
exactly those bars, and `--resume` runs on them too. Old versions stay until `tvdesk data
remove`.

A timeframe the library does not hold is built on demand from the finest series of the symbol
that divides it, with `tvdesk.data.resample` (the code `request.security` uses) in the symbol's
exchange timezone and session, and cached beside the series until the source changes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tvdesk import paths
from tvdesk.data import series_file
from tvdesk.data.market_data import (
    Bars,
    check_timeframe,
    count_gaps,
    derive_mintick,
    load_bars,
    parse_timeframe,
)
from tvdesk.data.resample import Candles, aggregate, timeframe_ms, unit_of
from tvdesk.data.sessions import parse_session
from tvdesk.data.symbol_names import same_symbol
from tvdesk.errors import DataError, InputError
from tvdesk.fileio import write_bytes_atomically, write_json_atomically

__all__ = ["AddReport", "Library", "LibraryEntry", "same_symbol", "timeframe_code"]

# Overlapping bars whose close differs by more than this share are "different".
_PRICE_TOLERANCE = 0.005
# More than this share of different overlapping bars: not the same symbol or feed.
_MAX_DIFFERENT_SHARE = 0.05
_ENTRY_SUFFIX = ".json"


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """One series: the symbol's facts, what it holds, and where its bars came from."""

    symbol: str
    timeframe: str
    timezone: str = "UTC"
    mintick: float | None = None
    pointvalue: float | None = None
    currency: str | None = None
    session: str | None = None
    bars: int = 0
    first_ms: int = 0
    last_ms: int = 0
    gaps: int = 0
    price_decimals: int = 2
    sources: tuple[str, ...] = ()
    path: str = ""  # the series file (not stored in the entry's JSON)

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.timeframe}"

    def first(self) -> str:
        return _iso(self.first_ms)

    def last(self) -> str:
        return _iso(self.last_ms)

    def tick(self) -> float:
        """The tick size: as given, else derived from the prices' decimals."""
        return self.mintick or derive_mintick(self.price_decimals)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["file"] = Path(data.pop("path")).name
        data["sources"] = list(self.sources)
        return data


@dataclass(slots=True)
class AddReport:
    """What one `add` did to one series, for the user."""

    entry: LibraryEntry
    new_bars: int = 0
    replaced_bars: int = 0
    created: bool = False
    notes: list[str] = field(default_factory=list)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _slug(symbol: str) -> str:
    """A file-system safe, readable, collision-free folder name for a symbol."""
    readable = re.sub(r"[^A-Za-z0-9._!-]+", "_", symbol.upper()).strip("._") or "symbol"
    return f"{readable[:60]}-{hashlib.sha256(symbol.upper().encode()).hexdigest()[:8]}"


def _check_symbol(symbol: str) -> str:
    text = symbol.strip()
    if not text or any(c.isspace() for c in text) or text.count(":") > 1 or \
            text.startswith(":") or text.endswith(":"):
        raise InputError(f"expected a symbol such as BINANCE:BTCUSDT or AAPL, got {symbol!r}",
                         source="--symbol")
    return text.upper()


class Library:
    """The library folder: `series/<symbol>/<timeframe>.npz` + `.json`, `derived/` caches."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else paths.data_dir() / "library"

    # ------------------------------------------------------------------ reading

    def entries(self) -> list[LibraryEntry]:
        """Every series, sorted by symbol then timeframe length."""
        found = []
        for meta_file in sorted((self.root / "series").glob(f"*/*{_ENTRY_SUFFIX}")):
            try:
                found.append(self._read_entry(meta_file))
            except DataError:
                continue  # a damaged entry is reported by `get`, not by a listing
        return sorted(found, key=lambda e: (e.symbol, timeframe_ms(e.timeframe)))

    def symbols(self) -> list[str]:
        return sorted({entry.symbol for entry in self.entries()})

    def _read_entry(self, meta_file: Path) -> LibraryEntry:
        try:
            data = json.loads(meta_file.read_text(encoding="utf-8"))
            data["sources"] = tuple(data.get("sources") or ())
            name = Path(str(data.pop("file", ""))).name
            entry = LibraryEntry(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise DataError(f"damaged library entry ({exc})", source=str(meta_file)) from None
        path = meta_file.parent / name if name else meta_file.with_suffix(series_file.SUFFIX)
        return LibraryEntry(**{**asdict(entry), "path": str(path)})

    def find(self, symbol: str) -> list[LibraryEntry]:
        """The entries of `symbol` (a bare ticker matches any one exchange's)."""
        held = [e for e in self.entries() if same_symbol(symbol, e.symbol)]
        symbols = {e.symbol for e in held}
        if len(symbols) > 1:
            raise InputError(f"{symbol} is ambiguous in the market data library: "
                             f"{', '.join(sorted(symbols))}; give the exchange", source=symbol)
        return held

    def resolve(self, symbol: str, timeframe: str) -> LibraryEntry:
        """The series of `symbol` at `timeframe`: held, or resampled from a finer one.

        InputError naming the symbol and timeframe, and what the library holds, when neither.
        """
        code = timeframe_code(timeframe)
        held = self.find(symbol)
        if not held:
            have = ", ".join(self.symbols()) or "nothing yet"
            raise InputError(
                f"{symbol} is not in the market data library (it holds: {have}); add its bars "
                f"with `tvdesk data add FILE --symbol {symbol}`", source="--symbols")
        for entry in held:
            if entry.timeframe == code:
                return entry
        finer = [e for e in held if _divides(e.timeframe, code)]
        if not finer:
            have = ", ".join(e.timeframe for e in held)
            raise InputError(
                f"{held[0].symbol} has no bars at timeframe {code}, nor finer bars to build "
                f"them from (the library holds {have}); add a {code} or lower-timeframe "
                "export", source="--timeframes")
        source = min(finer, key=lambda e: (timeframe_ms(e.timeframe), -e.bars))
        return self._derived(source, code)

    def _derived(self, source: LibraryEntry, code: str) -> LibraryEntry:
        """`source` resampled to `code`, cached under derived/ keyed by the source's content."""
        series = Path(source.path)  # named by its content: a new version, a new key
        stamp = f"{source.symbol}|{code}|{source.session}|{source.timezone}|{series.name}"
        key = hashlib.sha256(stamp.encode()).hexdigest()[:16]
        target = self.root / "derived" / _slug(source.symbol) / f"{code}-{key}{series_file.SUFFIX}"
        entry_fields = {**asdict(source), "timeframe": code,
                        "sources": (f"resampled from {source.label}",), "path": str(target)}
        if not target.exists():
            columns, meta = series_file.read_series(series)
            resampled = aggregate(Candles(**columns), code, source.timezone,
                                  parse_session(source.session))
            series_file.write_series(target, _columns(resampled),
                                     {**meta, "timeframe": code})
        columns, _ = series_file.read_series(target)
        times = columns["times"]
        return LibraryEntry(**{**entry_fields, "bars": len(times),
                               "first_ms": int(times[0]) if len(times) else 0,
                               "last_ms": int(times[-1]) if len(times) else 0,
                               "gaps": count_gaps(times, code)})

    # ------------------------------------------------------------------ adding

    def add(self, files: Sequence[str | Path], *, symbol: str, timeframe: str | None = None,
            mintick: float | None = None, pointvalue: float | None = None,
            currency: str | None = None, timezone: str | None = None,
            session: str | None = None, replace: bool = False) -> list[AddReport]:
        """Read `files` (all of `symbol`) and merge each into its timeframe's series.

        Every file is read and checked before anything is written, so a bad file among good
        ones leaves the library as it was.
        """
        symbol = _check_symbol(symbol)
        if session:
            session = parse_session(session).text
        known = self._known_facts(symbol)  # any timeframe's entry: the symbol's facts
        tz = timezone or (known.timezone if known else "UTC")
        loaded: list[Bars] = []
        for file in files:
            bars = load_bars(file, timezone=tz)
            if timeframe:
                check_timeframe(timeframe_code(timeframe), bars)
            loaded.append(bars)
        plans: dict[str, list[Bars]] = {}
        for bars in loaded:
            code = timeframe_code(timeframe) if timeframe else bars.timeframe
            plans.setdefault(code, []).append(bars)
        # Every group is merged (and a mismatched overlap refused) before any file is written.
        merged = [self._merge(symbol, code, group, mintick=mintick, pointvalue=pointvalue,
                              currency=currency, timezone=timezone, session=session,
                              replace=replace, known=known)
                  for code, group in plans.items()]
        for report, data, meta_file in merged:
            write_bytes_atomically(report.entry.path, data)  # then the entry that points to it
            write_json_atomically(meta_file, report.entry.to_json())
        return [report for report, _data, _meta in merged]

    def _known_facts(self, symbol: str) -> LibraryEntry | None:
        held = [e for e in self.entries() if e.symbol == symbol]
        return held[0] if held else None

    def _merge(self, symbol: str, code: str, group: list[Bars], *, mintick: float | None,
               pointvalue: float | None, currency: str | None, timezone: str | None,
               session: str | None, replace: bool,
               known: LibraryEntry | None) -> tuple[AddReport, bytes, Path]:
        """The merged series of one timeframe: (report, the series file's bytes, the entry's
        file); nothing is written here."""
        folder = self.root / "series" / _slug(symbol)
        meta_file = folder / f"{code}{_ENTRY_SUFFIX}"
        old = self._read_entry(meta_file) if meta_file.exists() and not replace else None
        # Facts not given: this series' own, else those of the symbol's other timeframes.
        facts = old or known
        if facts is not None and timezone and timezone != facts.timezone and not replace:
            raise InputError(
                f"{facts.label} is kept in timezone {facts.timezone}; --timezone {timezone} "
                "would shift every bar (give the same timezone, or --replace to start the "
                "series again)", source="--timezone")
        tz = timezone or (facts.timezone if facts else "UTC")
        columns = _columns(Candles.of(group[0]))
        sources = [group[0].path]
        report = AddReport(entry=LibraryEntry(symbol=symbol, timeframe=code))
        if old is not None:
            old_columns, _ = series_file.read_series(old.path)
            columns, new, replaced = _merge_columns(old_columns, columns, group[0].path,
                                                    old.label)
            report.new_bars, report.replaced_bars = new, replaced
            sources = [*old.sources, *sources]
        else:
            report.created = True
            report.new_bars = len(columns["times"])
        for bars in group[1:]:
            columns, new, replaced = _merge_columns(columns, _columns(Candles.of(bars)),
                                                    bars.path, f"{symbol} {code}")
            report.new_bars += new
            report.replaced_bars += replaced
            sources.append(bars.path)
        decimals = max([b.price_decimals for b in group] + ([old.price_decimals] if old else []))
        times = columns["times"]
        gaps = count_gaps(times, code)
        entry = LibraryEntry(
            symbol=symbol, timeframe=code, timezone=tz,
            mintick=mintick if mintick is not None else (facts.mintick if facts else None),
            pointvalue=pointvalue if pointvalue is not None else (
                facts.pointvalue if facts else None),
            currency=currency or (facts.currency if facts else None),
            session=session or (facts.session if facts else None),
            bars=len(times), first_ms=int(times[0]), last_ms=int(times[-1]), gaps=gaps,
            price_decimals=decimals, sources=tuple(dict.fromkeys(str(s) for s in sources)))
        data = series_file.series_bytes(columns, {
            "symbol": symbol, "timeframe": code, "timezone": tz, "price_decimals": decimals})
        name = f"{code}-{hashlib.sha256(data).hexdigest()[:16]}{series_file.SUFFIX}"
        report.entry = LibraryEntry(**{**asdict(entry), "path": str(folder / name)})
        return report, data, meta_file

    def remove(self, symbol: str, timeframe: str | None = None) -> list[LibraryEntry]:
        """Delete `symbol`'s series (one timeframe, or all); returns what was removed."""
        removed = []
        for entry in self.find(symbol):
            if timeframe and entry.timeframe != timeframe_code(timeframe):
                continue
            folder = Path(entry.path).parent
            for version in folder.glob(f"{entry.timeframe}-*{series_file.SUFFIX}"):
                version.unlink(missing_ok=True)
            (folder / f"{entry.timeframe}{_ENTRY_SUFFIX}").unlink(missing_ok=True)
            removed.append(entry)
        return removed


def _columns(candles: Candles) -> dict[str, np.ndarray]:
    return {"times": np.asarray(candles.times, dtype=np.int64), "open": candles.open,
            "high": candles.high, "low": candles.low, "close": candles.close,
            "volume": candles.volume}


def _merge_columns(old: dict[str, np.ndarray], new: dict[str, np.ndarray], new_source: str,
                   label: str) -> tuple[dict[str, np.ndarray], int, int]:
    """`old` and `new` bars as one series (new wins on equal times): (columns, new, replaced).

    DataError naming the file when the overlap's prices show it is another symbol or feed.
    """
    common, in_old, in_new = np.intersect1d(old["times"], new["times"], return_indices=True)
    if len(common):
        before, after = old["close"][in_old], new["close"][in_new]
        different = np.abs(after - before) > _PRICE_TOLERANCE * np.abs(before)
        if different.sum() > max(1, _MAX_DIFFERENT_SHARE * len(common)):
            i = int(np.flatnonzero(different)[0])
            raise DataError(
                f"{int(different.sum())} of its {len(common)} bars that overlap the library's "
                f"{label} differ in price by more than {_PRICE_TOLERANCE:.1%} (first at "
                f"{_iso(int(common[i]))} UTC: close {after[i]:g}, library {before[i]:g}); is it "
                "the same symbol and price feed? Use --replace to start the series again",
                source=new_source)
    keep_old = np.ones(len(old["times"]), dtype=bool)
    keep_old[in_old] = False
    merged = {key: np.concatenate([old[key][keep_old], new[key]]) for key in old}
    order = np.argsort(merged["times"], kind="stable")
    merged = {key: value[order] for key, value in merged.items()}
    return merged, len(new["times"]) - len(common), len(common)


def timeframe_code(text: str, flag: str = "--timeframe") -> str:
    """TradingView's code of a timeframe a user wrote ("4h" -> "240"); InputError naming
    `flag` when it is not one."""
    parsed = parse_timeframe(str(text))
    if parsed is None:
        raise InputError(f"expected a timeframe such as 15, 60, 240, 1D or 1W, got {text!r}",
                         source=flag)
    return parsed[0]


def _divides(finer: str, coarser: str) -> bool:
    """Whether bars of `finer` build bars of `coarser` (one session grid, no partial bars)."""
    if timeframe_ms(finer) >= timeframe_ms(coarser) * 0.999:
        return False
    unit, count = unit_of(coarser)
    if unit in ("D", "W", "M"):
        # Days, weeks and months are built from intraday or daily bars (one count only).
        return count == 1 and unit_of(finer)[0] in ("", "S", "D")
    return timeframe_ms(coarser) % timeframe_ms(finer) == 0


def describe(entries: Iterable[LibraryEntry]) -> list[list[str]]:
    """Rows for `tvdesk data list`: symbol, timeframe, first/last bar, bars, gaps, facts."""
    rows = []
    for e in entries:
        facts = [f"tz {e.timezone}", f"tick {e.tick():g}" + ("" if e.mintick else " (derived)")]
        if e.pointvalue:
            facts.append(f"point value {e.pointvalue:g}")
        if e.currency:
            facts.append(e.currency)
        if e.session:
            facts.append(f"session {e.session}")
        rows.append([e.symbol, e.timeframe, e.first(), e.last(), str(e.bars), str(e.gaps),
                     ", ".join(facts)])
    return rows
