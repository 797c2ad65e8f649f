"""A watchlist's per-chart breakdown as rows of text: the CLI table, the Trial view's table
and the reports all show the same columns (Qt-free, so every shell formats it alike)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# One table for every shell: the reports (a lower layer) own its columns and cell rules.
from tvdesk.reports.chart_table import (
    COLUMNS,
    chart_rows,
    chart_tag,
    format_table,
    header,
)
from tvdesk.reports.chart_table import cell as _cell

__all__ = ["COLUMNS", "chart_rows", "chart_tag", "format_table", "header"]


# --------------------------------------------------------------------------- the Trial view

AGGREGATE_TEXT = {"median": "the median over the charts",
                  "min": "the worst chart's value (min; max for lower-is-better metrics)",
                  "mean": "the mean over the charts"}
NET_COLUMN = 1  # the "Net profit %" column of `chart_rows` (coloured by its sign)


@dataclass(frozen=True, slots=True)
class ChartCurve:
    """One chart's equity as return % from the initial capital, for a small plot.

    `x` are the wall-clock times in the chart's timezone as seconds since 1970 read as UTC
    (as `trial_details.EquityPlot`), so a date axis showing UTC shows the chart's own clock.
    """

    label: str
    title: str  # "FX:EURUSD 1D · +2.97 %"
    x: tuple[float, ...]
    returns: tuple[float, ...]
    sign: int  # of the chart's net profit: colours the curve


@dataclass(frozen=True, slots=True)
class ChartBreakdown:
    """A watchlist trial chart by chart: the table rows (`chart_rows`), each chart's equity
    and trades, and a note saying how the trial's own metrics were aggregated."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    signs: tuple[int, ...]  # of each chart's net profit (colours the Net profit % cells)
    curves: tuple[ChartCurve, ...]
    trades: tuple[Any, ...]  # a `trial_details.TradeTable` per chart, in the rows' order
    note: str
    labels: tuple[str, ...] = ()


def _sign(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value \
            or value != value:
        return 0
    return 1 if value > 0 else -1


def chart_curve(label: str, metrics: Mapping[str, Any], equity: Mapping[str, Any] | None,
                timezone: str = "UTC") -> ChartCurve:
    """A chart's kept equity ({"times": [ms...], "equity": [...]}) as return % over time."""
    from datetime import datetime

    from tvdesk.reports.data import zone
    from tvdesk.viewmodels.trial_details import wall_seconds

    net = metrics.get("net_profit_percent")
    net_text = _cell(net, "+%")
    title = f"{label} · {net_text} %" if net_text != "—" else label
    times = list((equity or {}).get("times") or ())
    values = list((equity or {}).get("equity") or ())
    count = min(len(times), len(values))
    if not count:
        return ChartCurve(label, title, (), (), _sign(net))
    capital = metrics.get("initial_capital")
    base = float(capital) if isinstance(capital, (int, float)) and not isinstance(
        capital, bool) and capital > 0 else float(values[0] or 1.0)
    tz = zone(timezone)
    x = tuple(wall_seconds(datetime.fromtimestamp(int(t) / 1000, tz)) for t in times[:count])
    returns = tuple((float(v) / base - 1.0) * 100.0 for v in values[:count])
    return ChartCurve(label, title, x, returns, _sign(net))


def breakdown_note(trial_metrics: Mapping[str, Any], charts: int,
                   aggregate: str | None) -> str:
    """"4 charts · the trial's metrics are the median over the charts · 3 of 4 profitable ·
    objective dispersion 1.57 (std / |mean|)"."""
    parts = [f"{charts} chart{'s' if charts != 1 else ''}"]
    if aggregate:
        parts.append(f"the trial's metrics are {AGGREGATE_TEXT.get(aggregate, aggregate)}")
    profitable = trial_metrics.get("charts_profitable_percent")
    if isinstance(profitable, (int, float)) and not isinstance(profitable, bool):
        parts.append(f"{round(profitable * charts / 100)} of {charts} profitable")
    spread = trial_metrics.get("chart_objective_dispersion")
    if isinstance(spread, (int, float)) and not isinstance(spread, bool):
        parts.append(f"objective dispersion {spread:.2f} (std / |mean|)")
    return " · ".join(parts)


def chart_breakdown(records: Sequence[Any], trial_metrics: Mapping[str, Any] | None = None,
                    aggregate: str | None = None,
                    currency: str = "USD") -> ChartBreakdown | None:
    """The per-chart breakdown of a watchlist trial from its `ChartRecord`s (None for a
    one-chart trial, which has none)."""
    if not records:
        return None
    from tvdesk.model import BacktestResult
    from tvdesk.reports.data import zone
    from tvdesk.viewmodels.trial_details import trade_table

    pairs = [(record.label, record.metrics) for record in records]
    curves = []
    trades = []
    for record in records:
        timezone = str((record.chart or {}).get("timezone") or "UTC")
        curves.append(chart_curve(record.label, record.metrics, record.equity, timezone))
        result = None
        if record.result:
            try:
                result = BacktestResult.from_dict(record.result)
            except (KeyError, TypeError, ValueError):
                result = None
        chart_currency = str((record.chart or {}).get("currency") or currency)
        trades.append(trade_table(result, zone(timezone), chart_currency))
    return ChartBreakdown(
        header=tuple(header()), rows=tuple(tuple(row) for row in chart_rows(pairs)),
        signs=tuple(_sign(metrics.get("net_profit_percent")) for _, metrics in pairs),
        curves=tuple(curves), trades=tuple(trades),
        note=breakdown_note(trial_metrics or {}, len(records), aggregate),
        labels=tuple(label for label, _ in pairs))


def trial_breakdown(store: Any, trial_id: int) -> ChartBreakdown | None:
    """`chart_breakdown` of a stored trial (`RunStore`); None for a one-chart trial."""
    records = store.chart_results(trial_id)
    if not records:
        return None
    trial = store.trial(trial_id)
    result = store.trial_result(trial_id)
    props: Mapping[str, Any] = result.properties if result is not None else {}
    settings = store.get_run(trial.run_id).settings
    aggregate = props.get("aggregate") or settings.get("aggregate")
    currency = str(props.get("currency") or "USD")
    return chart_breakdown(records, trial.metrics, str(aggregate) if aggregate else None,
                           currency)


# --------------------------------------------------------------------------- the setup form

LIBRARY_EMPTY_HINT = ("The market data library is empty. Add a chart's bars with "
                      "`tvdesk data add FILE.csv --symbol EXCHANGE:SYMBOL`, then Refresh.")


def library_choices(entries: Sequence[Any]) -> list[tuple[str, str]]:
    """(symbol, what the library holds of it) for each symbol of the library's `LibraryEntry`s,
    in the library's order: "FX:EURUSD: 60: 5000 bars, 2017-04-19 09:00 … 2018-02-07 15:00
    UTC, tick 1e-05"."""
    held: dict[str, list[str]] = {}
    for entry in entries:
        held.setdefault(entry.symbol, []).append(
            f"{entry.timeframe}: {entry.bars:,} bars, {entry.first()} … {entry.last()} UTC, "
            f"tick {entry.tick():g}")
    return [(symbol, f"{symbol}\n" + "\n".join(lines)) for symbol, lines in held.items()]


def library_span(entries: Sequence[Any], symbols: Sequence[str]) -> tuple[Any, Any] | None:
    """The first and last dates (each series in its own timezone) the chosen symbols' series
    cover together, for the date pickers; None when none of them is held."""
    from datetime import datetime

    from tvdesk.reports.data import zone

    chosen = {s.upper() for s in symbols}
    picked = [e for e in entries if e.symbol.upper() in chosen and e.bars]
    if not picked:
        return None
    first = min(datetime.fromtimestamp(e.first_ms / 1000, zone(e.timezone)).date()
                for e in picked)
    last = max(datetime.fromtimestamp(e.last_ms / 1000, zone(e.timezone)).date()
               for e in picked)
    return first, last
