"""One backtest on one TradingView page: the flow, in order, skipping what is already set.

A page remembers what it shows (symbol, interval, which script, range, inputs), so an
optimisation that only changes inputs only opens the settings dialog. Every change that
makes TradingView recompute is followed by a wait for a fresh report, and the exported
workbook must echo the request (inputs, range, symbol, interval): a mismatch is exported
once more, then it is an error, never a silently wrong result.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from tvdesk.engines.tradingview.chart import (
    clear_strategies,
    legend_item_with,
    open_chart,
    set_interval,
)
from tvdesk.engines.tradingview.chart_timezone import set_chart_timezone
from tvdesk.engines.tradingview.driver import Driver
from tvdesk.engines.tradingview.editor import add_to_chart, set_code
from tvdesk.engines.tradingview.errors import StaleExport
from tvdesk.engines.tradingview.layout import LayoutMemory
from tvdesk.engines.tradingview.report import (
    export_xlsx,
    mark_report,
    open_report,
    set_date_range,
    wait_fresh,
)
from tvdesk.engines.tradingview.script_text import new_token, tag_title, tv_interval
from tvdesk.engines.tradingview.session import Urls
from tvdesk.engines.tradingview.settings_dialog import (
    PROPERTY_STEPS,
    QTY_TYPE_OPTIONS,
    apply_settings,
    qty_type_name,
)
from tvdesk.errors import InputError
from tvdesk.exports.numbers import parse_number
from tvdesk.model import BacktestRequest, BacktestResult, FrozenMap
from tvdesk.pine.declarations import match_inputs

log = logging.getLogger(__name__)

RETRY_EXPORT_PAUSE = 2.0  # seconds before the one re-export of a mismatched report


class SignedOut(Exception):
    """TradingView sent the page to its sign-in form: the engine logs in and retries."""


@dataclass(slots=True)
class PageState:
    """What one page shows now; reset whenever the page may be in an unknown state."""

    symbol: str | None = None
    interval: str | None = None
    timezone: str | None = None
    script_hash: str | None = None
    token: str | None = None
    title: str | None = None
    date_range: tuple[str | None, str | None] = (None, None)
    applied: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        self.symbol = self.interval = self.timezone = None
        self.script_hash = self.token = self.title = None
        self.date_range = (None, None)
        self.applied = {}


@dataclass(frozen=True, slots=True)
class RunLimits:
    step_timeout: float
    report_timeout: float
    load_timeout: float = 60.0


def _day(value: datetime | None) -> str | None:
    return value.date().isoformat() if value else None


def _hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def plan_inputs(request: BacktestRequest) -> dict[str, Any]:
    """The request's input overrides by their titles in the dialog, typed."""
    return {spec.title: value
            for spec, value in match_inputs(request.inputs, request.strategy.inputs)}


def expected_inputs(request: BacktestRequest) -> dict[str, Any]:
    """What the export's Properties must show: the overrides, and the script's defaults for
    the other numeric and on/off inputs (whose echo is unambiguous)."""
    expected = {spec.title: spec.default for spec in request.strategy.inputs
                if spec.kind in ("int", "float", "bool") and spec.default is not None}
    expected.update(plan_inputs(request))
    return expected


def check_request(request: BacktestRequest) -> str:
    """Everything about the request that can be wrong before a browser opens (InputError,
    exit 2): symbol, timeframe, input values, settable properties. Returns the interval to
    type on the chart."""
    if not request.symbol.ticker:
        raise InputError("the TradingView engine needs a symbol (--symbol EXCHANGE:SYMBOL)",
                         source="--symbol")
    if not request.symbol.timeframe:
        raise InputError("the TradingView engine needs a timeframe (--timeframe, e.g. 1h)",
                         source="--timeframe")
    interval = tv_interval(request.symbol.timeframe)
    plan_inputs(request)
    unknown = sorted(set(dict(request.settings)) - set(PROPERTY_STEPS))
    if unknown:
        raise InputError(f"the TradingView engine can set {', '.join(PROPERTY_STEPS)} through "
                         f"the settings dialog, not {', '.join(unknown)}; put those in the "
                         "script's strategy() declaration", source="settings")
    qty_type = dict(request.settings).get("default_qty_type")
    if qty_type is not None:
        try:
            qty_type_name(qty_type)
        except ValueError as exc:
            raise InputError(str(exc), source="settings") from None
    return interval


async def prepare(driver: Driver, state: PageState, request: BacktestRequest, urls: Urls,
                  limits: RunLimits, *, layout: LayoutMemory | None = None) -> Any:
    """Bring the page to the request's chart, script, range and settings; returns the legend
    item of our strategy."""
    interval = check_request(request)
    symbol = request.symbol.ticker
    inputs = plan_inputs(request)
    properties = dict(request.settings)
    wanted_range = (_day(request.date_from), _day(request.date_to))
    if state.date_range != (None, None) and wanted_range != state.date_range \
            and None in wanted_range:
        # An edge this request leaves open must be TradingView's default again, which only
        # a fresh chart and strategy give.
        state.reset()
    if any(key.startswith("property:") and key.removeprefix("property:") not in properties
           for key in state.applied):
        state.script_hash = None  # a property set earlier goes back to the script's own
    if state.symbol != symbol:
        state.reset()  # a new chart: nothing of the old one holds
        if not await open_chart(driver, urls, symbol, load_timeout=limits.load_timeout,
                                layout=layout):
            raise SignedOut()
        await clear_strategies(driver)
        state.symbol = symbol
    if state.interval != interval:
        await set_interval(driver, interval)
        state.interval = interval
        if state.script_hash is not None:  # the strategy recomputes on the new interval
            state.script_hash = None
    zone = request.symbol.timezone or "UTC"
    if state.timezone != zone:
        how = await set_chart_timezone(driver, zone)
        log.info("chart timezone %s (%s)", zone, how)
        if how == "menu" and state.script_hash is not None:
            state.script_hash = None  # the report recomputes: add the strategy afresh
        state.timezone = zone
    source_hash = _hash(request.strategy.source)
    if state.script_hash != source_hash:
        await clear_strategies(driver)
        token = new_token()
        tagged, title = tag_title(request.strategy.source, token)
        way = await set_code(driver, tagged)
        log.info("script %s put in the Pine Editor by %s", title, way)
        await open_report(driver)
        await mark_report(driver)

        async def added(timeout: float) -> Any:
            return await legend_item_with(driver, token, timeout=timeout)

        await add_to_chart(driver, added, timeout=limits.report_timeout)
        await wait_fresh(driver, timeout=limits.report_timeout)
        state.script_hash, state.token, state.title = source_hash, token, title
        state.date_range, state.applied = (None, None), {}
    await open_report(driver)
    if wanted_range != state.date_range and any(wanted_range):
        await mark_report(driver)
        if await set_date_range(driver, request.date_from, request.date_to):
            await wait_fresh(driver, timeout=limits.report_timeout)
        state.date_range = wanted_range
    item = await legend_item_with(driver, state.token or "", timeout=limits.step_timeout)
    if item is None:  # the page reloaded or someone changed the chart: nothing here is ours
        lost = state.token
        state.reset()
        raise await driver.failure("legend_item", seconds=limits.step_timeout,
                                   detail=f"this run's strategy [{lost}] is not on the chart")
    # Inputs not overridden go back to the script's defaults (an earlier trial may have
    # changed them on this page).
    wanted = {spec.title: spec.default for spec in request.strategy.inputs
              if spec.title in state.applied and spec.default is not None}
    if any(spec.title in state.applied and spec.default is None
           for spec in request.strategy.inputs if spec.title not in inputs):
        raise InputError("an input changed by an earlier run has no readable default to go "
                         "back to; give it with --input", source="--input")
    wanted.update(inputs)
    todo_inputs = {k: v for k, v in wanted.items() if state.applied.get(k, object()) != v}
    todo_props = {k: v for k, v in properties.items()
                  if state.applied.get(f"property:{k}", object()) != v}
    if todo_inputs or todo_props:
        await mark_report(driver)
        if await apply_settings(driver, item, todo_inputs, todo_props):
            await wait_fresh(driver, timeout=limits.report_timeout)
        state.applied.update(todo_inputs)
        state.applied.update({f"property:{k}": v for k, v in todo_props.items()})
    return item


def check_export(result: BacktestResult, request: BacktestRequest,
                 inputs: dict[str, Any]) -> list[str]:
    from tvdesk.exports import export_matches

    problems: list[str] = []
    settings = dict(request.settings)
    capital = settings.get("initial_capital")
    got = result.metrics.get("initial_capital")
    if capital is not None and (got is None or abs(float(got) - float(capital)) > 1e-6):
        problems.append(f"initial capital {got!r} in the export, expected {capital!r}")
    problems += property_echo_problems(result.properties, settings)
    return problems + export_matches(result, inputs=inputs or None,
                          date_from=request.date_from.date() if request.date_from else None,
                          date_to=request.date_to.date() if request.date_to else None,
                          symbol=request.symbol.ticker, timeframe=request.symbol.timeframe)


def property_echo_problems(echo: Any, settings: dict[str, Any]) -> list[str]:
    """Every property the run set, compared with the export's Properties sheet: order size
    and its unit ("50 % of equity", "10 Contracts", "1000 USD"), pyramiding, commission,
    slippage ("2 ticks")."""
    problems: list[str] = []
    order = str(echo.get("order_size") or "")
    checks = (("default_qty_value", "order_size", _first_number(order)),
              ("pyramiding", "pyramiding", _first_number(str(echo.get("pyramiding") or ""))),
              ("commission_value", "commission",
               _first_number(str(echo.get("commission") or ""))),
              ("slippage", "slippage", _first_number(str(echo.get("slippage") or ""))))
    for key, name, got in checks:
        if key not in settings:
            continue
        if got is None or abs(got - float(settings[key])) > 1e-9 * max(1.0, abs(got)):
            shown = echo.get(name)
            problems.append(f"{name.replace('_', ' ')} {shown!r} in the export, expected "
                            f"{settings[key]!r}")
    if "default_qty_type" in settings:
        wanted = qty_type_name(settings["default_qty_type"])
        unit = ("percent_of_equity" if "%" in order else
                "fixed" if "contract" in order.casefold() else "cash" if order else None)
        if unit != wanted:
            problems.append(f"order size {order or None!r} in the export, expected a size in "
                            f"{QTY_TYPE_OPTIONS.get(wanted, 'the account currency')}")
    return problems


def _first_number(text: str) -> float | None:
    match = re.search(r"-?\d+(?:[.,]\d+)*", text)
    return None if match is None else parse_number(match.group(0))


async def run_on_page(driver: Driver, state: PageState, request: BacktestRequest, urls: Urls,
                      limits: RunLimits, downloads: Path, *,
                      layout: LayoutMemory | None = None) -> BacktestResult:
    """The whole flow for one request on a logged-in page (on tvdesk's own layout)."""
    from tvdesk.exports import read_export

    await prepare(driver, state, request, urls, limits, layout=layout)
    inputs = expected_inputs(request)
    problems: list[str] = []
    for attempt in (1, 2):
        path = await export_xlsx(driver, downloads, state.token or "report",
                                 timeout=limits.report_timeout)
        result = read_export(path, timezone=request.symbol.timezone)
        problems = check_export(result, request, inputs)
        if not problems:
            return _as_tradingview(result, state, path)
        log.warning("TradingView export %s does not match the request (attempt %d): %s",
                    path.name, attempt, "; ".join(problems))
        if attempt == 1:  # give a late recompute the time to land before exporting again
            await asyncio.sleep(RETRY_EXPORT_PAUSE)
    state.reset()  # whatever the page shows, it is not what we think
    raise StaleExport("TradingView's export does not match the request after a retry: "
                      + "; ".join(problems) + f" (file {path})")


def _as_tradingview(result: BacktestResult, state: PageState, path: Path) -> BacktestResult:
    properties = dict(result.properties)
    properties.update({"engine": "tradingview", "export_file": str(path),
                       "run_token": state.token, "strategy_title": state.title})
    return replace(result, source="tradingview", properties=FrozenMap(properties))
