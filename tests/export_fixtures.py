"""Writers of TradingView-shaped exports for the export-reader tests and the benchmark.

Each writer lays a file out as TradingView does (tests/export_layouts.py spells out every
variant): five sheets, a header row, two rows per trade with the exit row first and every value
repeated, Excel serial dates, inline strings. openpyxl's write-only mode writes inline strings
(`t="inlineStr"`), as SheetJS does (openpyxl 3.1 writes inline strings in every mode);
`shared_strings=True` rewrites the workbook to use a shared-string table, as Excel does when it
re-saves a file, so that path is covered too. Numbers in the report sheets are computed from
the trades here, so the tests know what every metric must read as.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from tvdesk.model import Trade

from export_layouts import LAYOUTS, METRIC_ROWS, SPLIT_PERCENT_ROWS, Layout

EPOCH = datetime(1899, 12, 30)
INITIAL_CAPITAL = 10_000.0
INPUTS: dict[str, Any] = {"Length": 14, "Use filter": True, "Exit on reversal": False,
                          "Source": "close", "Multiplier": 1.5}
SYMBOL, TIMEFRAME = "NASDAQ:AAPL", "60"
BACKTEST_FROM, BACKTEST_TO = datetime(2024, 1, 1), datetime(2024, 12, 31)


@dataclass(frozen=True)
class FxTrade:
    """A trade as the fixtures write it; times are naive chart times."""

    number: int
    side: str
    entry_time: datetime
    entry_price: float
    exit_time: datetime
    exit_price: float
    qty: float
    profit: float
    profit_percent: float
    run_up: float
    run_up_percent: float
    drawdown: float
    drawdown_percent: float
    commission: float
    bars: int
    entry_signal: str
    exit_signal: str
    open: bool = False
    cum_profit: float = 0.0
    cum_profit_percent: float = 0.0


_MOVES = (4.5, -2.25, 3.0, 0.1, -1.5, 6.25)


def make_trades(n: int = 6, *, sides: tuple[str, ...] = ("long", "short"),
                open_last: bool = True, start: datetime = datetime(2024, 1, 2, 9, 30),
                spacing: timedelta = timedelta(days=2),
                hold: timedelta = timedelta(hours=30)) -> list[FxTrade]:
    """Deterministic trades: wins, losses, one even trade (move 0.1 pays the commission)."""
    trades: list[FxTrade] = []
    for i in range(n):
        side = sides[i % len(sides)]
        direction = 1 if side == "long" else -1
        entry_time = start + spacing * i
        entry_price = round(100 + 3 * (i % 50) + (i % 3) * 0.25, 2)
        move = _MOVES[i % len(_MOVES)]
        qty, commission = 10.0, 1.0
        profit = round(move * qty - commission, 2)
        value = entry_price * qty
        run_up = round(abs(move) * qty + 5, 2)
        drawdown = round(2.5 + (i % 7) * 0.5, 2)
        trades.append(FxTrade(
            number=i + 1, side=side, entry_time=entry_time, entry_price=entry_price,
            exit_time=entry_time + hold, exit_price=round(entry_price + direction * move, 2),
            qty=qty, profit=profit, profit_percent=round(profit / value * 100, 2),
            run_up=run_up, run_up_percent=round(run_up / value * 100, 2), drawdown=drawdown,
            drawdown_percent=round(drawdown / value * 100, 2), commission=commission,
            bars=30, entry_signal=f"{side.title()} entry {i % 2}",
            exit_signal="TP" if profit > 0 else "SL",
            open=open_last and i == n - 1))
    return with_cumulative(trades)


def make_pyramided() -> list[FxTrade]:
    """Trades 1 and 2 (and 3 and 4) are open at the same time; their exits interleave."""
    base = make_trades(4, sides=("long",), open_last=False)
    day = datetime(2024, 3, 4)
    times = {1: (10, 14), 2: (11, 15), 3: (34, 36), 4: (35, 40)}  # hours after `day`
    trades = [replace(t, entry_time=day + timedelta(hours=times[t.number][0]),
                      exit_time=day + timedelta(hours=times[t.number][1])) for t in base]
    return with_cumulative(trades)


def pyramided_row_order(trades: list[FxTrade]) -> list[tuple[int, str]]:
    """Rows in time order, newest first: trade 2's exit comes before trade 1's."""
    events = [(t.exit_time, t.number, "exit") for t in trades]
    events += [(t.entry_time, t.number, "entry") for t in trades]
    return [(number, role) for _time, number, role in sorted(events, reverse=True)]


def with_cumulative(trades: list[FxTrade]) -> list[FxTrade]:
    total, out = 0.0, []
    for t in sorted(trades, key=lambda t: t.number):
        if not t.open:
            total = round(total + t.profit, 2)
        out.append(replace(t, cum_profit=total,
                           cum_profit_percent=round(total / INITIAL_CAPITAL * 100, 2)))
    return out


# --------------------------------------------------------------------------- report numbers


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def report_stats(trades: list[FxTrade]) -> dict[str, Any]:
    """What the report sheets state, under the metric keys the reader must produce."""
    stats: dict[str, Any] = {"initial_capital": INITIAL_CAPITAL, "buy_hold_return": 512.5,
                             "buy_hold_return_percent": 5.13, "annualized_return": 3.21,
                             "max_runup": 180.0, "max_runup_percent": 1.8,
                             "max_drawdown": 35.5, "max_drawdown_percent": 0.35,
                             "max_drawdown_close_to_close": 30.25,
                             "max_drawdown_close_to_close_percent": 0.3,
                             "max_drawdown_of_initial_capital": 0.36,
                             "max_drawdown_duration_close_to_close_days": 31.0,
                             "sharpe_ratio": 0.42, "sortino_ratio": 1.37}
    for scope in ("all", "long", "short"):
        chosen = [t for t in trades if scope == "all" or t.side == scope]
        closed = [t for t in chosen if not t.open]
        wins = [t for t in closed if t.profit > 0]
        losses = [t for t in closed if t.profit < 0]
        sfx = "" if scope == "all" else f"_{scope}"

        def put(key: str, value: Any, percent: Any = "absent", sfx: str = sfx) -> None:
            stats[key + sfx] = value
            if percent != "absent":
                stats[key + sfx + "_percent"] = percent

        net = round(sum(t.profit for t in closed), 2)
        gross_profit = round(sum(t.profit for t in wins), 2)
        gross_loss = round(-sum(t.profit for t in losses), 2)
        open_pl = round(sum(t.profit for t in chosen if t.open), 2)
        put("net_profit", net, round(net / INITIAL_CAPITAL * 100, 2))
        put("gross_profit", gross_profit, round(gross_profit / INITIAL_CAPITAL * 100, 2))
        put("gross_loss", gross_loss, round(gross_loss / INITIAL_CAPITAL * 100, 2))
        put("open_pl", open_pl, round(open_pl / INITIAL_CAPITAL * 100, 2))
        put("commission_paid", round(sum(t.commission for t in closed), 2))
        put("max_contracts_held", 10 if chosen else 0)
        put("total_open_trades", len(chosen) - len(closed))
        put("total_trades", len(closed))
        put("winning_trades", len(wins))
        put("losing_trades", len(losses))
        put("even_trades", len(closed) - len(wins) - len(losses))
        put("percent_profitable", round(len(wins) / len(closed) * 100, 2) if closed else None)
        put("avg_trade", _mean([t.profit for t in closed]),
            _mean([t.profit_percent for t in closed]))
        put("avg_winning_trade", _mean([t.profit for t in wins]),
            _mean([t.profit_percent for t in wins]))
        put("avg_losing_trade", _mean([-t.profit for t in losses]),
            _mean([-t.profit_percent for t in losses]))
        avg_win, avg_loss = stats["avg_winning_trade" + sfx], stats["avg_losing_trade" + sfx]
        put("ratio_avg_win_loss", round(avg_win / avg_loss, 3) if avg_win and avg_loss else None)
        put("largest_winning_trade", max((t.profit for t in wins), default=None),
            max((t.profit_percent for t in wins), default=None))
        put("largest_losing_trade", max((-t.profit for t in losses), default=None),
            max((-t.profit_percent for t in losses), default=None))
        put("avg_bars_in_trades", 30 if closed else None)
        put("profit_factor", round(gross_profit / gross_loss, 3) if gross_loss else None)
        put("margin_calls", 0)
        if scope == "all":
            put("return_on_initial_capital", round(net / INITIAL_CAPITAL * 100, 2))
    return stats


# --------------------------------------------------------------------------- writers


@dataclass(frozen=True)
class Written:
    """Where things landed, so tests can name the row and column an error must point at."""

    path: Path
    rows: dict[tuple[int, str], int]
    headers: dict[str, str]
    sheets: tuple[str, ...]


def _serial(moment: datetime) -> float:
    return (moment - EPOCH).total_seconds() / 86400


def _trade_cells(t: FxTrade, role: str, layout: Layout, fields: list[str],
                 date_mode: str, overrides: dict[tuple[int, str, str], Any]) -> list[Any]:
    when = t.entry_time if role == "entry" else t.exit_time
    price = t.entry_price if role == "entry" else t.exit_price
    signal = t.entry_signal if role == "entry" else (layout.open_signal if t.open
                                                      else t.exit_signal)
    drawdown = -t.drawdown if layout.negative_mae else t.drawdown
    drawdown_pct = -t.drawdown_percent if layout.negative_mae else t.drawdown_percent
    date_value: Any = {"serial": _serial(when), "datetime": when,
                       "iso": when.isoformat(sep=" ", timespec="minutes")}[date_mode]
    values = {"trade_number": t.number, "type": layout.types[(role, t.side)], "signal": signal,
              "datetime": date_value, "price": price, "qty": t.qty,
              "position_value": round(price * t.qty, 2), "profit": t.profit,
              "profit_percent": t.profit_percent, "cum_profit": t.cum_profit,
              "cum_profit_percent": t.cum_profit_percent, "run_up": t.run_up,
              "run_up_percent": t.run_up_percent, "drawdown": drawdown,
              "drawdown_percent": drawdown_pct, "duration_bars": t.bars,
              "commission": t.commission}
    return [overrides.get((t.number, role, f), values.get(f)) for f in fields]


def _row_order(trades: list[FxTrade], layout: Layout,
               order: list[tuple[int, str]] | None) -> list[tuple[int, str]]:
    if order is not None:
        return order
    numbers = sorted((t.number for t in trades), reverse=layout.newest_first)
    return [(n, role) for n in numbers for role in ("exit", "entry")]


def _metric_sheet(layout: Layout, sheet: str, stats: dict[str, Any],
                  currency: str) -> list[list[Any]]:
    scopes = list(zip(("all", "long", "short"), layout.scopes, strict=True))
    header: list[Any] = [""]
    for _scope, word in scopes:
        header += [f"{word} {currency}", f"{word} %"]
    rows = [header]
    split = SPLIT_PERCENT_ROWS.get(layout.labels, {})
    for kind, key, shape, labels in METRIC_ROWS:
        label = labels[layout.labels]
        if kind != sheet or label is None:
            continue
        cells: list[Any] = [label] + [None] * 6
        pct_cells: list[Any] = [split[key]] + [None] * 6 if key in split else []
        for i, (scope, _word) in enumerate(scopes):
            if shape.startswith("all_") and scope != "all":
                continue
            sfx = "" if scope == "all" else f"_{scope}"
            money = shape in ("both", "money", "all_both", "all_money")
            pct = shape in ("both", "all_both")
            if shape == "duration" and scope == "all":
                cells[1] = f"{stats[key]:g} {layout.duration_unit}"
            if money:
                cells[1 + 2 * i] = _cell(stats.get(key + sfx))
            if shape in ("pct", "all_pct"):
                cells[2 + 2 * i] = _cell(stats.get(key + sfx))
            if pct:
                target = pct_cells if pct_cells else cells
                target[2 + 2 * i] = _cell(stats.get(key + sfx + "_percent"))
        rows.append(cells)
        if pct_cells:
            rows.append(pct_cells)
    return rows


def _cell(value: Any) -> Any:
    return "N/A" if value is None else value


def _range_text(start: datetime, end: datetime, style: str) -> str:
    if style == "named":
        return f"{start:%b %d, %Y} — {end:%b %d, %Y}"
    if style == "day_named":
        months = ("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov",
                  "dez")
        return (f"{start.day:02d} {months[start.month - 1]} {start.year} — "
                f"{end.day:02d} {months[end.month - 1]} {end.year}")
    return f"{start:%Y-%m-%d %H:%M} — {end:%Y-%m-%d %H:%M}"


def _properties(layout: Layout, trades: list[FxTrade], currency: str,
                inputs: dict[str, Any]) -> list[list[Any]]:
    names = layout.property_names
    on, off = layout.bools
    first = min((t.entry_time for t in trades), default=BACKTEST_FROM)
    last = max((t.exit_time for t in trades), default=BACKTEST_TO)
    rows: list[list[Any]] = [
        [names[0], _range_text(first, last, layout.range_style)],
        [names[1], _range_text(BACKTEST_FROM, BACKTEST_TO, layout.range_style)],
        [names[2], SYMBOL], [names[3], int(TIMEFRAME) if layout.labels == "en2024"
                             else TIMEFRAME],
        [names[4], 1], [names[5], currency], [names[6], 0.01]]
    for title, value in inputs.items():
        rows.append([title, (on if value else off) if isinstance(value, bool) else value])
    rows += [[names[7], INITIAL_CAPITAL], [names[8], "10 Contracts"], [names[9], 1],
             [names[10], "1 USD per order"], [names[11], "2 ticks"], [names[12], "100 %"],
             [names[13], "100 %"], [names[14], off]]
    return rows


def write_xlsx(path: Path, trades: list[FxTrade] | None = None, *, variant: str = "2025",
               currency: str = "USD", date_mode: str = "serial", shared_strings: bool = False,
               overrides: dict[tuple[int, str, str], Any] | None = None,
               extra_header: str | None = None, omit_sheets: tuple[str, ...] = (),
               stats: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
               row_order: list[tuple[int, str]] | None = None,
               rename: dict[str, str] | None = None,
               extra_metric_rows: list[list[Any]] | None = None) -> Written:
    """An export workbook in one TradingView layout; every knob exists for one test."""
    layout = LAYOUTS[variant]
    trades = make_trades() if trades is None else trades
    stats = report_stats(trades) if stats is None else stats
    fields = [f for f, _h in layout.trade_headers]
    headers = {f: h.format(cur=currency) for f, h in layout.trade_headers}
    by_number = {t.number: t for t in trades}
    book = Workbook(write_only=True)
    rows: dict[tuple[int, str], int] = {}
    kinds = ("performance", "trades_analysis", "risk_adjusted", "trades", "properties")
    names = tuple((rename or {}).get(n, n) for n in layout.sheets)
    for kind, name in zip(kinds, names, strict=True):
        if name in omit_sheets:
            continue
        sheet = book.create_sheet(name)
        if kind == "trades":
            sheet.append(list(headers.values()) + ([extra_header] if extra_header else []))
            for line, (number, role) in enumerate(_row_order(trades, layout, row_order), 2):
                sheet.append(_trade_cells(by_number[number], role, layout, fields, date_mode,
                                          overrides or {}))
                rows[(number, role)] = line
        elif kind == "properties":
            for row in _properties(layout, trades, currency, INPUTS if inputs is None
                                   else inputs):
                sheet.append(row)
        else:
            for row in _metric_sheet(layout, kind, stats, currency):
                sheet.append(row)
            if kind == "performance":
                for row in extra_metric_rows or []:
                    sheet.append(row)
    book.save(path)
    if shared_strings:
        to_shared_strings(path)
    return Written(path, rows, headers, tuple(n for n in names if n not in omit_sheets))


_INLINE = re.compile(r'<c ([^>]*?)t="inlineStr"([^>]*)><is><t[^>]*>([^<]*)</t></is></c>')


def to_shared_strings(path: Path) -> None:
    """Move every inline string into xl/sharedStrings.xml (`t="s"` cells), as Excel writes."""
    table: dict[str, int] = {}

    def shared(match: re.Match[str]) -> str:
        index = table.setdefault(match.group(3), len(table))
        return f'<c {match.group(1)}t="s"{match.group(2)}><v>{index}</v></c>'

    with zipfile.ZipFile(path) as src:
        parts = {item.filename: src.read(item) for item in src.infolist()}
    for name in [n for n in parts if n.startswith("xl/worksheets/")]:
        parts[name] = _INLINE.sub(shared, parts[name].decode()).encode()
    items = "".join(f"<si><t>{text}</t></si>" for text in table)
    parts["xl/sharedStrings.xml"] = (
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        f'count="{len(table)}" uniqueCount="{len(table)}">{items}</sst>').encode()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", (
            b'<Relationship Id="rIdShared" Type="http://schemas.openxmlformats.org/'
            b'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
            b"</Relationships>"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in parts.items():
            dst.writestr(name, data)


def write_csv(path: Path, trades: list[FxTrade] | None = None, *, variant: str = "2025",
              currency: str = "USD", intraday: bool = True, bom: bool = True,
              overrides: dict[tuple[int, str, str], Any] | None = None) -> Written:
    """The List-of-trades CSV: UTF-8 with BOM, comma separated, dates without offset."""
    layout = LAYOUTS[variant]
    trades = make_trades() if trades is None else trades
    fields = [f for f, _h in layout.trade_headers]
    headers = {f: h.format(cur=currency) for f, h in layout.trade_headers}
    lines = [",".join(_csv_quote(h) for h in headers.values())]
    rows: dict[tuple[int, str], int] = {}
    by_number = {t.number: t for t in trades}
    for number, role in _row_order(trades, layout, None):
        cells = _trade_cells(by_number[number], role, layout, fields, "iso", overrides or {})
        when = cells[fields.index("datetime")]
        if isinstance(when, str) and not intraday:
            cells[fields.index("datetime")] = when[:10]
        lines.append(",".join(_csv_quote(c) for c in cells))
        rows[(number, role)] = len(lines)
    text = "\n".join(lines) + "\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    return Written(path, rows, headers, ())


def _csv_quote(value: Any) -> str:
    text = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    return f'"{text}"' if any(ch in text for ch in ',"\n') else text


# --------------------------------------------------------------------------- bad files


def write_text_as_xlsx(path: Path) -> Path:
    path.write_text("Trade #,Type\n1,Entry long\n", encoding="utf-8")
    return path


def write_truncated_xlsx(path: Path) -> Path:
    write_xlsx(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_encrypted_xlsx(path: Path) -> Path:
    """What Excel writes for a password-protected workbook: an OLE compound file."""
    header = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(16) + b"\x3e\x00\x03\x00\xfe\xff"
    path.write_bytes(header + bytes(4096 - len(header)))
    return path


def write_chart_csv(path: Path) -> Path:
    path.write_text("\ufefftime,open,high,low,close,Volume\n"
                    "1704187800,100,101,99.5,100.5,1200\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- comparing

COMPARED = ("number", "side", "entry_time", "entry_price", "qty", "exit_time", "exit_price",
            "profit", "profit_percent", "entry_signal", "exit_signal", "open", "run_up",
            "run_up_percent", "drawdown", "drawdown_percent", "cum_profit")


def expected(fx: FxTrade, tz: str = "UTC") -> dict[str, Any]:
    zone = ZoneInfo(tz)
    return {
        "number": fx.number, "side": fx.side, "entry_time": fx.entry_time.replace(tzinfo=zone),
        "entry_price": fx.entry_price, "qty": fx.qty,
        "exit_time": None if fx.open else fx.exit_time.replace(tzinfo=zone),
        "exit_price": None if fx.open else fx.exit_price, "profit": fx.profit,
        "profit_percent": fx.profit_percent, "entry_signal": fx.entry_signal,
        "exit_signal": "" if fx.open else fx.exit_signal, "open": fx.open,
        "run_up": fx.run_up, "run_up_percent": fx.run_up_percent, "drawdown": fx.drawdown,
        "drawdown_percent": fx.drawdown_percent, "cum_profit": fx.cum_profit,
    }


def projected(trade: Trade) -> dict[str, Any]:
    return {name: getattr(trade, name) for name in COMPARED}


def assert_trades(result_trades: tuple[Trade, ...], fixtures: list[FxTrade],
                  tz: str = "UTC") -> None:
    assert [projected(t) for t in result_trades] == [expected(f, tz) for f in fixtures]


def assert_metrics(metrics: Any, stats: dict[str, Any]) -> None:
    for key, value in stats.items():
        assert key in metrics, key
        assert metrics[key] == (pytest.approx(value) if value is not None else None), key
