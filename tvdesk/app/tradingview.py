"""TradingView in the application layer: the engine from settings, the login check,
`tvdesk tv check`, and confirming an optimisation's best trials on TradingView.

The CLI and the GUI both call these; none of it knows about terminals or widgets.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tvdesk.model import BacktestRequest, BacktestResult, FrozenMap

if TYPE_CHECKING:
    from tvdesk.engines.tradingview import TradingViewEngine
    from tvdesk.engines.tradingview.driver import StepLog
    from tvdesk.engines.tradingview.selectors import SelectorBook
    from tvdesk.store import RunStore

log = logging.getLogger(__name__)

CHECK_SYMBOL = "BINANCE:BTCUSDT"
CHECK_TIMEFRAME = "1D"


async def check_login(engine: TradingViewEngine) -> str:
    """Log in once (or find the session kept from before); returns what happened."""
    return await engine.start()


def check_request(script: str | None = None, symbol: str | None = None,
                  timeframe: str | None = None, date_from: str | None = None,
                  date_to: str | None = None) -> BacktestRequest:
    """What `tvdesk tv check` runs: the bundled example unless a script is given."""
    from tvdesk import paths
    from tvdesk.app.requests import RunOptions, build_request

    script = script or str(paths.examples_dir() / "sma_cross.pine")
    request = build_request(RunOptions(script=script, symbol=symbol or CHECK_SYMBOL,
                                       timeframe=timeframe or CHECK_TIMEFRAME,
                                       date_from=date_from, date_to=date_to),
                            engine="tradingview")
    first = next((s for s in request.strategy.inputs if s.kind in ("int", "float")), None)
    if first is not None and first.default is not None:
        # Set an input through the dialog, so the check walks the settings steps too.
        request = request.with_inputs({first.title: first.default})
    return request


@dataclass(frozen=True, slots=True)
class CheckRow:
    step: str
    what: str
    status: str  # ok, FALLBACK, FAILED, absent, skipped, not reached
    matched: str
    seconds: float | None


def check_rows(step_log: StepLog, book: SelectorBook) -> list[CheckRow]:
    """One row per step of the selector book, in the book's order."""
    seen = {r.step: r for r in step_log.records}
    rows: list[CheckRow] = []
    for key, step in book.steps.items():
        record = seen.get(key)
        if record is None:
            rows.append(CheckRow(key, step.what, "not reached", "", None))
            continue
        status = record.status
        matched = record.matched or record.note
        if status == "ok" and record.position > 1:
            status = "FALLBACK"
            matched = f"{matched} (candidate {record.position}; the first ones failed)"
        elif status == "failed":
            status = "FAILED"
            matched = f"tried: {step.tried()}"
        rows.append(CheckRow(key, step.what, status, matched, record.seconds or None))
    return rows


def format_check_table(rows: list[CheckRow], step_log: StepLog | None = None) -> str:
    width = max(len(r.step) for r in rows)
    lines = [f"{'step':<{width}}  {'status':<11}  selector that worked"]
    for r in rows:
        lines.append(f"{r.step:<{width}}  {r.status:<11}  {r.matched}")
    if step_log is not None:
        lines += ["", *popup_lines(step_log)]
    return "\n".join(lines)


def popup_lines(step_log: StepLog) -> list[str]:
    """What got in the way during the check: known pop-ups closed, dialogs tvdesk does not
    know (closed, or left open because they hold form fields)."""
    def counted(counter: Counter[str]) -> str:
        # Most frequent first, ties by name, so the same check prints the same lines.
        ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        return "; ".join(f"{what!r} ×{n}" for what, n in ordered)

    return [
        f"pop-ups closed: {counted(step_log.popups) or 'none'}",
        f"unknown dialogs closed: {counted(step_log.unknown_modals) or 'none'}",
        f"unknown dialogs with form fields, left open: {counted(step_log.left_open) or 'none'}",
    ]


# ------------------------------------------------------------------- confirm on TradingView


@dataclass(frozen=True, slots=True)
class Confirmation:
    local_trial: int
    tradingview_trial: int | None
    matched_percent: float | None
    summary: str
    error: str | None = None


def _top_trials(store: RunStore, run_id: str, k: int, score: Callable[[Any], float]) -> list:
    done = [t for t in store.trials(run_id, segment="in_sample", status="done")
            if t.has_result]
    unique: dict[str, Any] = {}
    for trial in sorted(done, key=lambda t: (-score(t.metrics), t.id)):
        unique.setdefault(trial.params_key, trial)
    return list(unique.values())[:k]


async def confirm_top(store: RunStore, run_id: str, k: int, engine: Any, *,
                      notify: Callable[[str], None] | None = None) -> list[Confirmation]:
    """Re-run the K best local trials (by the run's objective, one per parameter set) on
    `engine` (TradingView) and store each beside the local one."""
    from tvdesk.optimize.settings import stored_settings

    settings = stored_settings(store, run_id)
    best = _top_trials(store, run_id, k, settings.targets.score)
    return await confirm_trials(store, [t.id for t in best], engine, notify=notify)


async def confirm_trials(store: RunStore, trial_ids: list[int], engine: Any, *,
                         notify: Callable[[str], None] | None = None) -> list[Confirmation]:
    """Run each trial again on `engine` with the same script, inputs and date range, and
    store the result as a `confirm` trial with the parity of the two trade lists."""
    from tvdesk.app.parity import compare_trades
    from tvdesk.errors import TvdeskError
    from tvdesk.optimize.settings import stored_settings
    from tvdesk.pine.loader import load_strategy_source

    say = notify or (lambda message: log.info("%s", message))
    confirmations: list[Confirmation] = []
    for trial_id in trial_ids:
        trial = store.trial(trial_id)
        local = store.trial_result(trial.id)
        if local is None:
            confirmations.append(Confirmation(trial.id, None, None, "skipped",
                                              "the trial has no stored result"))
            continue
        settings = stored_settings(store, trial.run_id)
        if settings.charts:
            confirmations.append(Confirmation(
                trial.id, None, None, "skipped", "a watchlist trial ran on several charts; "
                "confirm it chart by chart (tvdesk evaluate --engine tradingview on each)"))
            continue
        strategy = load_strategy_source(store.get_source(trial.source_hash))
        # The same window the local trial ran on (in-sample or holdout), not the whole range.
        symbol = settings.request.symbol
        if not symbol.timeframe and local.properties.get("timeframe"):
            # The local run detected the chart's timeframe from the data; TradingView needs it.
            symbol = replace(symbol, timeframe=str(local.properties["timeframe"]))
        request = replace(settings.request, strategy=strategy, symbol=symbol,
                          inputs=tuple(trial.inputs.items()),
                          date_from=_when(local.properties.get("date_from"))
                          or settings.request.date_from,
                          date_to=_when(local.properties.get("date_to"))
                          or settings.request.date_to)
        confirm_id = store.start_trial(trial.run_id, worker=0, condition=trial.condition,
                                       iteration=trial.iteration, proposer="confirm",
                                       source_hash=trial.source_hash, inputs=trial.inputs,
                                       segment="confirm")
        say(f"confirming trial {trial.id} on TradingView")
        try:
            result = await engine.run(request)
        except TvdeskError as exc:
            store.finish_trial(confirm_id, status="error", error=str(exc))
            confirmations.append(Confirmation(trial.id, confirm_id, None, "failed", str(exc)))
            say(f"trial {trial.id}: TradingView run failed: {exc}")
            continue
        except BaseException:
            store.finish_trial(confirm_id, status="error", error="cancelled")
            raise
        mintick = float(local.properties.get("tick_size") or 0.0) or 1e-9
        parity = compare_trades(local.trades, result.trades, mintick=mintick)
        result = _with_parity(result, trial.id, parity.to_dict())
        store.finish_trial(confirm_id, result=result,
                           metrics={**result.metrics,
                                    "parity_matched_percent": parity.matched_percent})
        confirmations.append(Confirmation(trial.id, confirm_id, parity.matched_percent,
                                          parity.summary_line()))
        say(f"trial {trial.id} on TradingView: {parity.summary_line()}")
    return confirmations


def _when(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def _with_parity(result: BacktestResult, local_trial: int,
                 parity: dict[str, Any]) -> BacktestResult:
    properties = dict(result.properties)
    properties["confirms_trial"] = local_trial
    properties["parity"] = {k: v for k, v in parity.items() if k != "mismatches"} | {
        "mismatches": parity.get("mismatches", [])[:20]}
    return replace(result, properties=FrozenMap(properties))
