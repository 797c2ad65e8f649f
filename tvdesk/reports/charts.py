"""The report's charts as PNG bytes, drawn with matplotlib's Agg canvas.

No pyplot: every chart is a `matplotlib.figure.Figure` given its own `FigureCanvasAgg`, so
nothing touches matplotlib's global figure registry or backend choice (a GUI in the same
process keeps its own), and figures are freed as soon as their bytes are out.

Charts (names in `render_charts`):
- `equity`: the best trial's equity with buy & hold, drawdown % underneath, holdout after it;
- `monthly_returns`: the best trial's return per month, years × months, coloured around 0;
- `trade_pnl`: the best trial's distribution of trade P&L %, wins and losses coloured;
- `iterations`: net profit % and max drawdown % of every in-sample trial in start order,
  with the best so far;
- `parameters`: the best net profit % over the two inputs with the most distinct values
  (only when at least two inputs are numeric);
- `watchlist_equity` (a watchlist run): the best trial's equity on each of its charts, one
  small panel per chart, titled with the chart's net profit % as its per-chart table shows it.
A chart without enough data to say anything is left out rather than drawn empty.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

import numpy as np
from matplotlib import colors as mcolors
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator

from tvdesk.analytics.input_axes import axis_bins, numeric_inputs
from tvdesk.model import BacktestResult
from tvdesk.reports.chart_table import chart_rows
from tvdesk.reports.data import ChartResult, EquitySeries, ReportData, TrialSummary
from tvdesk.reports.labels import column_header, is_number, label

DPI = 100
BLUE, ORANGE, GREY, GREEN, RED = "#2962ff", "#ff6d00", "#787b86", "#089981", "#f23645"
CONDITION_COLOURS = ("#2962ff", "#ff6d00", "#089981", "#9c27b0", "#f23645", "#00bcd4",
                     "#795548", "#607d8b", "#cddc39", "#e91e63")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    figure.clear()
    return buffer.getvalue()


def _style(ax: Any) -> None:
    ax.grid(True, color="#e0e3eb", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8.5)


def _money(currency: str) -> FuncFormatter:
    return FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def _date_axis(ax: Any, tz: tzinfo | None) -> None:
    locator = mdates.AutoDateLocator(tz=tz, minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=tz))


def _drawdown(equity: Sequence[float]) -> np.ndarray:
    values = np.asarray(equity, dtype=float)
    peaks = np.maximum.accumulate(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peaks > 0, (values / peaks - 1.0) * 100.0, 0.0)


_KIND_NOTE = {"bars": "Close equity of every bar", "daily": "Equity at each day's end",
              "trades": "Realised equity at trade exits"}


# --------------------------------------------------------------------------- equity


def equity_chart(series: EquitySeries, *, title: str, currency: str = "USD",
                 holdout: EquitySeries | None = None) -> bytes:
    """Equity and buy & hold on top, drawdown % below; a holdout continues on the right."""
    figure = _figure(10, 6.2)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1.2))
    tz = series.times[0].tzinfo if series.times else None
    step = "post" if series.kind == "trades" else None
    _line(top, series.times, series.equity, BLUE, "Strategy equity", step)
    buy_hold = series.buy_hold_line()
    if buy_hold is not None:
        _line(top, buy_hold[0], buy_hold[1], GREY, "Buy & hold", None, dashed=True)
    top.axhline(series.initial_capital, color=GREY, linewidth=0.7, linestyle=":")
    dd = _drawdown(series.equity)
    _area(bottom, series.times, dd, RED, "Strategy", step)
    if holdout is not None and holdout.times:
        hstep = "post" if holdout.kind == "trades" else None
        start = holdout.times[0]
        for ax in (top, bottom):
            ax.axvspan(start, holdout.times[-1], color="#fff3e0", zorder=0)
            ax.axvline(start, color=ORANGE, linewidth=0.8, linestyle="--")
        realised = "; realised at trade exits" if holdout.kind == "trades" else ""
        _line(top, holdout.times, holdout.equity, ORANGE,
              f"Holdout (separate backtest from the initial capital{realised})", hstep)
        holdout_buy_hold = holdout.buy_hold_line()
        if holdout_buy_hold is not None:
            _line(top, holdout_buy_hold[0], holdout_buy_hold[1], "#b0b3bb",
                  "Buy & hold (holdout)", None, dashed=True)
        _area(bottom, holdout.times, _drawdown(holdout.equity), ORANGE, "Holdout", hstep)
    top.set_title(title, fontsize=11, loc="left")
    top.set_ylabel(f"Equity {currency}".strip(), fontsize=9)
    top.yaxis.set_major_formatter(_money(currency))
    note = _KIND_NOTE.get(series.kind, "")
    top.legend(loc="upper left", fontsize=8, frameon=False,
               title=note, title_fontsize=7.5, alignment="left")
    bottom.set_ylabel("Drawdown %", fontsize=9)
    bottom.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{round(v, 6) + 0.0:g}%"))
    bottom.set_ylim(top=0.0)
    for ax in (top, bottom):
        _style(ax)
    _date_axis(bottom, tz)
    return _png(figure)


def _line(ax: Any, times: Sequence[datetime], values: Sequence[float], colour: str, name: str,
          step: str | None, *, dashed: bool = False) -> None:
    style = "--" if dashed else "-"
    if step:
        ax.step(times, values, where=step, color=colour, linewidth=1.3, label=name,
                linestyle=style)
    else:
        ax.plot(times, values, color=colour, linewidth=1.1 if dashed else 1.3, label=name,
                linestyle=style)


def _area(ax: Any, times: Sequence[datetime], values: np.ndarray, colour: str, name: str,
          step: str | None) -> None:
    ax.fill_between(times, values, 0.0, color=colour, alpha=0.35, linewidth=0, label=name,
                    step=step)
    if step:
        ax.step(times, values, where=step, color=colour, linewidth=0.8)
    else:
        ax.plot(times, values, color=colour, linewidth=0.8)


# --------------------------------------------------------------------------- monthly returns


def monthly_returns(series: EquitySeries) -> dict[tuple[int, int], float]:
    """(year, month) -> return % of the month, from month-end equity (first: initial)."""
    ends: dict[tuple[int, int], float] = {}
    for moment, value in zip(series.times, series.equity, strict=True):
        ends[(moment.year, moment.month)] = value
    out: dict[tuple[int, int], float] = {}
    previous = series.initial_capital
    for month in sorted(ends):
        value = ends[month]
        if previous:
            out[month] = (value / previous - 1.0) * 100.0
        previous = value
    return out


def monthly_returns_chart(series: EquitySeries, *, title: str) -> bytes | None:
    returns = monthly_returns(series)
    if not returns:
        return None
    years = sorted({year for year, _m in returns})
    grid = np.full((len(years), 13), np.nan)
    for (year, month), value in returns.items():
        grid[years.index(year), month - 1] = value
    for row, year in enumerate(years):
        factors = [1 + returns[(year, m)] / 100 for m in range(1, 13) if (year, m) in returns]
        grid[row, 12] = (math.prod(factors) - 1) * 100
    figure = _figure(10, 1.6 + 0.42 * len(years))
    ax = figure.subplots()
    limit = float(np.nanmax(np.abs(grid))) or 1.0
    cmap = _cmap()
    image = ax.imshow(grid, cmap=cmap, vmin=-limit, vmax=limit, aspect="auto")
    for (row, col), value in np.ndenumerate(grid):
        if not math.isnan(value):
            weight = "bold" if col == 12 else "normal"
            ax.text(col, row, f"{_one_decimal(value)}%", ha="center", va="center", fontsize=8,
                    color="#131722", fontweight=weight)
    ax.axvline(11.5, color="white", linewidth=3)
    ax.set_xticks(range(13), [*MONTHS, "Year"], fontsize=8.5)
    ax.set_yticks(range(len(years)), [str(y) for y in years], fontsize=8.5)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=11, loc="left")
    bar = figure.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    bar.ax.tick_params(labelsize=7.5)
    bar.set_label("Return %", fontsize=8)
    return _png(figure)


def _one_decimal(value: float) -> str:
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _cmap() -> mcolors.Colormap:
    return mcolors.LinearSegmentedColormap.from_list(
        "tv", ["#f23645", "#f7a9b0", "#ffffff", "#9bd6c8", "#089981"]).with_extremes(
        bad="#f5f5f5")


# --------------------------------------------------------------------------- trade P&L


def trade_pnl_chart(result: BacktestResult, *, title: str, currency: str = "USD") -> bytes | None:
    """Histogram of the closed trades' P&L %, or P&L in money when no percent is known."""
    closed = [t for t in result.trades if not t.open]
    percent = [t.profit_percent for t in closed if is_number(t.profit_percent)]
    use_percent = len(percent) == len(closed) and bool(closed)
    values = np.asarray(percent if use_percent else
                        [t.profit for t in closed if is_number(t.profit)], dtype=float)
    if values.size == 0:
        return None
    figure = _figure(10, 4.6)
    ax = figure.subplots()
    edges = _edges(values)
    wins, losses, even = values[values > 0], values[values < 0], values[values == 0]
    ax.hist(losses, bins=edges, color=RED, alpha=0.85, label=f"Losing trades ({losses.size})")
    ax.hist(wins, bins=edges, color=GREEN, alpha=0.85, label=f"Winning trades ({wins.size})")
    if even.size:
        ax.hist(even, bins=edges, color=GREY, alpha=0.85, label=f"Even trades ({even.size})")
    mean = float(values.mean())
    unit = "%" if use_percent else currency
    ax.axvline(0.0, color="#131722", linewidth=0.8)
    ax.axvline(mean, color=BLUE, linewidth=1.2, linestyle="--",
               label=f"Mean {mean:,.2f} {unit}")
    ax.set_xlabel("Net P&L % per trade" if use_percent else f"Net P&L {currency} per trade",
                  fontsize=9)
    ax.set_ylabel("Trades", fontsize=9)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=11, loc="left")
    ax.legend(fontsize=8, frameon=False, loc="upper right")
    _style(ax)
    return _png(figure)


def _edges(values: np.ndarray) -> list[float]:
    """Histogram bins of equal width with 0 on an edge, so no bar mixes wins and losses.

    A list: matplotlib's stubs type `hist(bins=)` as a sequence, which an array is not."""
    count = int(min(60, max(10, math.sqrt(values.size) * 2)))
    low, high = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    width = (high - low) / count if high > low else 1.0
    first = math.floor(low / width)
    last = math.ceil(high / width)
    if last == first:
        last += 1
    return (np.arange(first, last + 1) * width).tolist()


# --------------------------------------------------------------------------- iterations


def iterations_chart(trials: Sequence[TrialSummary], *, title: str,
                     metric: str = "net_profit_percent") -> bytes | None:
    """Each in-sample trial in start order: the metric (with best so far) and max drawdown %."""
    order = sorted((t for t in trials if t.segment == "in_sample" and t.status == "done"),
                   key=lambda t: (t.started_at or datetime.min, t.id))
    if len(order) < 2:
        return None
    figure = _figure(10, 6)
    top, bottom = figure.subplots(2, 1, sharex=True)
    conditions = sorted(dict.fromkeys(t.condition for t in order), key=_natural)
    many = len(conditions) > 1
    x_all = np.arange(1, len(order) + 1)
    size = 28 if len(order) <= 100 else (12 if len(order) <= 1000 else 5)
    for index, condition in enumerate(conditions):
        colour = CONDITION_COLOURS[index % len(CONDITION_COLOURS)] if many else BLUE
        points = [(x, t) for x, t in zip(x_all, order, strict=True) if t.condition == condition]
        name = f"Condition {condition}" if many else "Trial"
        xs = [x for x, t in points if t.metric(metric) is not None]
        ys = [t.metric(metric) for _x, t in points if t.metric(metric) is not None]
        top.scatter(xs, ys, s=size, color=colour, alpha=0.6, linewidths=0, label=name)
        if ys:
            best = np.maximum.accumulate(np.asarray(ys, dtype=float))
            top.step(xs, best, where="post", color=colour, linewidth=1.4,
                     label=f"Best so far{f' ({condition})' if many else ''}")
        dxs = [x for x, t in points if t.metric("max_drawdown_percent") is not None]
        dys = [t.metric("max_drawdown_percent") for _x, t in points
               if t.metric("max_drawdown_percent") is not None]
        bottom.scatter(dxs, dys, s=size, color=RED if not many else colour, alpha=0.6,
                       linewidths=0)
    top.axhline(0.0, color=GREY, linewidth=0.7)
    top.set_ylabel(column_header(metric), fontsize=9)
    bottom.set_ylabel(column_header("max_drawdown_percent").replace(" (intrabar)", "\n(intrabar)"),
                      fontsize=9)
    bottom.invert_yaxis()
    bottom.set_xlabel("Trial in start order (in sample)", fontsize=9)
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_title(title, fontsize=11, loc="left")
    top.legend(fontsize=8, frameon=False, loc="lower right", ncols=2 if many else 1)
    for ax in (top, bottom):
        _style(ax)
    return _png(figure)


def _natural(condition: str | None) -> tuple[int, float, str]:
    """Conditions in a person's order: None, then 1, 2, 10 as numbers, then text."""
    if condition is None:
        return (0, 0.0, "")
    try:
        return (1, float(condition), "")
    except ValueError:
        return (2, 0.0, condition)


# --------------------------------------------------------------------------- parameters


def parameter_heatmap(trials: Sequence[TrialSummary], *, title: str,
                      metric: str = "net_profit_percent") -> bytes | None:
    """The best `metric` per cell over the two inputs with the most distinct values."""
    usable = [t for t in trials if t.segment == "in_sample" and t.metric(metric) is not None
              and t.status == "done"]
    inputs = [(n, c) for n, c in numeric_inputs(t.inputs for t in usable) if c >= 2]
    if len(inputs) < 2 or len(usable) < 2:
        return None
    (x_name, _nx), (y_name, _ny) = inputs[0], inputs[1]
    x_of, x_labels = axis_bins([float(t.inputs[x_name]) for t in usable])
    y_of, y_labels = axis_bins([float(t.inputs[y_name]) for t in usable])
    grid = np.full((len(y_labels), len(x_labels)), np.nan)
    best_cell, best_value = (0, 0), -math.inf
    for trial in usable:
        row, col = y_of(float(trial.inputs[y_name])), x_of(float(trial.inputs[x_name]))
        value = trial.metric(metric)
        assert value is not None
        if math.isnan(grid[row, col]) or value > grid[row, col]:
            grid[row, col] = value
        if value > best_value:
            best_cell, best_value = (row, col), value
    figure = _figure(10, max(4.5, min(9.0, 1.8 + 0.38 * len(y_labels))))
    ax = figure.subplots()
    # Symmetric around 0, as the monthly returns: red loses, green wins, white is flat.
    limit = float(np.nanmax(np.abs(grid))) or 1.0
    image = ax.imshow(grid, cmap=_cmap(), vmin=-limit, vmax=limit, aspect="auto",
                      origin="lower")
    if grid.size <= 400:
        for (row, col), value in np.ndenumerate(grid):
            if not math.isnan(value):
                ax.text(col, row, _one_decimal(value), ha="center", va="center",
                        fontsize=7.5, color="#131722")
    row, col = best_cell
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="#131722",
                           linewidth=2))
    ax.set_xticks(range(len(x_labels)), x_labels, fontsize=8,
                  rotation=45 if len(x_labels) > 10 or max(map(len, x_labels)) > 6 else 0,
                  ha="right" if len(x_labels) > 10 or max(map(len, x_labels)) > 6 else "center")
    ax.set_yticks(range(len(y_labels)), y_labels, fontsize=8)
    ax.set_xlabel(x_name, fontsize=9)
    ax.set_ylabel(y_name, fontsize=9)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(title, fontsize=11, loc="left")
    bar = figure.colorbar(image, ax=ax, fraction=0.04, pad=0.01)
    bar.ax.tick_params(labelsize=7.5)
    bar.set_label(f"Best {label(metric)}", fontsize=8)
    return _png(figure)


# --------------------------------------------------------------------------- watchlist

MAX_CHART_PANELS = 24
"""Panels of the per-chart equity figure at most (the table lists every chart)."""


def watchlist_equity_chart(charts: Sequence[ChartResult], *, title: str,
                           currency: str = "USD") -> bytes | None:
    """One small equity panel per chart of a watchlist trial, each on its own time axis
    (charts of a watchlist need not cover the same dates), coloured by the chart's result."""
    usable = [c for c in charts if c.equity is not None and len(c.equity.times) >= 2]
    if not usable:
        return None
    shown = usable[:MAX_CHART_PANELS]
    columns = 1 if len(shown) == 1 else 2 if len(shown) <= 8 else 3
    rows = math.ceil(len(shown) / columns)
    figure = _figure(10, 0.7 + 2.3 * rows)
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    texts = chart_rows([(c.label, c.metrics) for c in shown], with_tag=False)
    for ax, chart, row in zip(axes, shown, texts, strict=False):
        series = chart.equity
        assert series is not None
        net = chart.metrics.get("net_profit_percent")
        colour = GREY
        if is_number(net) and net:
            colour = GREEN if net > 0 else RED
        ax.plot(series.times, series.equity, color=colour, linewidth=1.2)
        ax.axhline(series.initial_capital, color=GREY, linewidth=0.7, linestyle=":")
        net_text = row[1] if row[1] == "—" else f"{row[1]} %"
        ax.set_title(f"{chart.label} · {net_text}", fontsize=9.5, loc="left")
        ax.yaxis.set_major_formatter(_money(currency))
        _style(ax)
        ax.tick_params(labelsize=7.5)
        _date_axis(ax, series.times[0].tzinfo)
    for ax in axes[len(shown):]:
        ax.set_visible(False)
    more = f" (first {len(shown)} of {len(usable)} charts)" if len(usable) > len(shown) else ""
    figure.suptitle(f"{title}{more}", fontsize=11, x=0.01, ha="left")
    return _png(figure)


# --------------------------------------------------------------------------- all


def chart_trial(data: ReportData) -> tuple[TrialSummary, BacktestResult] | None:
    """The detailed trial the equity, monthly and trade charts show: the first condition's
    headline trial (the one its card shows, with its holdout) when it is detailed, else the
    first detailed in-sample trial, so the charts and the card speak of the same trial."""
    detailed = {t.id: (t, r) for t, r in data.details}
    for trial in data.headline_by_condition().values():
        if trial.id in detailed:
            return detailed[trial.id]
    return next(((t, r) for t, r in data.details if t.segment == "in_sample"),
                data.details[0] if data.details else None)


def render_charts(data: ReportData) -> dict[str, bytes]:
    """Every chart the data supports, by name, as PNG bytes (in a stable order)."""
    charts: dict[str, bytes] = {}
    run = data.run
    name = run.strategy_title
    best = chart_trial(data)
    if best is not None:
        trial, result = best
        series = data.equity.get(trial.id)
        which = f"trial #{trial.id}" if run.kind == "optimization" else (run.symbol or "")
        if series is not None and len(series.times) >= 2:
            check = data.holdout_of(trial)
            holdout = data.equity.get(check.id) if check is not None else None
            charts["equity"] = equity_chart(
                series, title=f"{name} — equity, {which}".rstrip(", "), currency=run.currency,
                holdout=holdout if holdout is not None and len(holdout.times) >= 2 else None)
            monthly = monthly_returns_chart(
                series, title=f"{name} — monthly returns %, {which}".rstrip(", "))
            if monthly is not None:
                charts["monthly_returns"] = monthly
        pnl = trade_pnl_chart(result, title=f"{name} — trade P&L distribution, {which}"
                              .rstrip(", "), currency=run.currency)
        if pnl is not None:
            charts["trade_pnl"] = pnl
        per_chart = watchlist_equity_chart(
            data.chart_results(trial), currency=run.currency,
            title=f"{name} — equity on each chart, {which}".rstrip(", "))
        if per_chart is not None:
            charts["watchlist_equity"] = per_chart
    if run.kind == "optimization":
        iterations = iterations_chart(data.trials, metric=data.rank_metric,
                                      title=f"{name} — {label(data.rank_metric)} and max "
                                            f"drawdown by trial")
        if iterations is not None:
            charts["iterations"] = iterations
        heatmap = parameter_heatmap(data.trials, metric=data.rank_metric,
                                    title=f"{name} — best {label(data.rank_metric)} by inputs")
        if heatmap is not None:
            charts["parameters"] = heatmap
    return charts


__all__ = [
    "chart_trial",
    "equity_chart",
    "iterations_chart",
    "monthly_returns",
    "monthly_returns_chart",
    "parameter_heatmap",
    "render_charts",
    "trade_pnl_chart",
    "watchlist_equity_chart",
]
