"""TradingView's List-of-trades CSV into a `BacktestResult`.

The CSV is UTF-8 with a byte-order mark, comma separated, one header row with the same columns
as the XLSX's List of trades, dates `YYYY-MM-DD` (daily charts) or `YYYY-MM-DD HH:MM` (intraday)
in the chart's timezone without an offset.

The CSV states trades only. Its metrics are what can be counted without recomputing a report:
`total_trades` (closed) and `total_open_trades`; everything else is left to analytics, which
computes it the same way for every source. Properties hold only the currency the headers name.
"""

from __future__ import annotations

import csv
import io
from datetime import tzinfo
from pathlib import Path

from tvdesk.errors import InputError
from tvdesk.exports.checks import cumulative_warnings
from tvdesk.exports.trades import Where, build_trades, map_header
from tvdesk.model import BacktestResult, FrozenMap, Trade

_CHART_COLUMNS = frozenset({"time", "open", "high", "low", "close"})


def read_csv(path: str | Path, tz: tzinfo) -> BacktestResult:
    trades, warnings, currency = _read(path, tz)
    closed = sum(1 for t in trades if not t.open)
    metrics = {"total_trades": closed, "total_open_trades": len(trades) - closed}
    warnings += cumulative_warnings(trades)
    props = {"currency": currency} if currency else {}
    return BacktestResult(source="export", metrics=FrozenMap(metrics), trades=trades,
                          properties=FrozenMap(props), warnings=tuple(warnings))


def read_csv_trades(path: str | Path, tz: tzinfo) -> tuple[Trade, ...]:
    return _read(path, tz)[0]


def _read(path: str | Path, tz: tzinfo) -> tuple[tuple[Trade, ...], list[str], str | None]:
    source = str(path)
    text = _text(path)
    first_line = next((line for line in text.splitlines() if line.strip()), None)
    if first_line is None:
        raise InputError("the file is empty; expected a TradingView List-of-trades CSV or "
                         "an XLSX export", source=source)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    header = next(cells for cells in reader if any(c.strip() for c in cells))
    header_line = reader.line_num
    if _is_chart_header(header):
        raise InputError("this is chart data (time, open, high, low, close), not a "
                         "strategy export: pass it as market data with --data",
                         source=source, line=header_line)
    where = Where(source=source, tz=tz)
    rows = [(reader.line_num, cells) for cells in reader]
    columns = map_header(header, where, header_line, [cells for _line, cells in rows])
    trades, warnings = build_trades(rows, columns, where)
    return trades, warnings, columns.currency


def _text(path: str | Path) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", source=str(path)) \
            from None
    if b"\x00" in data[:4096]:
        raise InputError("not a text file: expected a TradingView List-of-trades CSV or an "
                         "XLSX export", source=str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError("not UTF-8 text; TradingView writes its CSV exports in UTF-8",
                         source=str(path), line=line) from None


def _delimiter(header: str) -> str:
    """Comma, unless the header clearly uses semicolons or tabs (a spreadsheet re-save)."""
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def _is_chart_header(cells: list[str]) -> bool:
    names = {c.strip().strip('"').casefold() for c in cells}
    return names >= _CHART_COLUMNS


def is_chart_data_csv(path: str | Path) -> bool:
    """True for TradingView's chart-data CSV (time, open, high, low, close, ...)."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as stream:
            for line in stream:
                if line.strip():
                    return _is_chart_header(next(csv.reader([line], delimiter=_delimiter(line))))
    except OSError:
        return False
    return False
