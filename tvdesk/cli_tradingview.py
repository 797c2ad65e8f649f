"""The CLI's TradingView parts: browser flags, `tvdesk tv check`, the engine for evaluate,
optimize and `--confirm-top`. Kept apart from cli.py so each file stays one job."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tvdesk.engines.tradingview import TradingViewEngine


def notify(message: str) -> None:
    print(f"tvdesk: {message}", file=sys.stderr, flush=True)


def add_browser_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--headless", dest="show_browser", action="store_false", default=None,
                       help="TradingView: run the browser without a window (default; config "
                       "tradingview.headless)")
    group.add_argument("--show-browser", dest="show_browser", action="store_true",
                       help="TradingView: show the browser window; a captcha can then be "
                       "solved by hand")


def add_tv_parser(sub: argparse._SubParsersAction) -> None:
    tv = sub.add_parser("tv", help="TradingView tools (tv check: walk the flow once and show "
                        "which selectors still work)")
    actions = tv.add_subparsers(dest="tv_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="log in, run the example strategy once on "
                               "TradingView and print a table of steps and selectors")
    check.add_argument("--script", metavar="FILE.pine",
                       help="strategy to run (default: the bundled SMA example)")
    check.add_argument("--symbol", metavar="EXCHANGE:SYMBOL", help="default BINANCE:BTCUSDT")
    check.add_argument("--timeframe", metavar="TF", help="default 1D")
    check.add_argument("--from", dest="date_from", metavar="DATE",
                       help="also walk the date-range steps (a custom range may need a paid "
                       "plan on TradingView)")
    check.add_argument("--to", dest="date_to", metavar="DATE")
    check.add_argument("--json", metavar="OUT", help="also write the table as JSON")
    add_browser_flags(check)


def make_engine(args: argparse.Namespace, pages: int | None = None) -> TradingViewEngine:
    """The TradingView engine for this command's flags (--config, --show-browser)."""
    from tvdesk.app.engines import make_engine as make
    from tvdesk.config import load_settings

    return make("tradingview", load_settings(args.config), workers=pages,
                show_browser=getattr(args, "show_browser", None), notify=notify)


async def evaluate_on_tradingview(request: Any, args: argparse.Namespace) -> Any:
    from tvdesk.app.evaluate import evaluate

    async with make_engine(args, pages=1) as engine:
        return await evaluate(request, engine)


def cmd_tv(args: argparse.Namespace) -> int:
    from tvdesk.app.tradingview import check_request, check_rows, format_check_table
    from tvdesk.errors import TvdeskError
    from tvdesk.fileio import write_json_atomically

    request = check_request(args.script, args.symbol, args.timeframe, args.date_from,
                            args.date_to)
    engine = make_engine(args, pages=1)
    error: TvdeskError | None = None

    async def walk() -> None:
        try:
            await engine.run(request)
        finally:
            await engine.close()

    try:
        asyncio.run(walk())
    except TvdeskError as exc:
        error = exc
    rows = check_rows(engine.step_log, engine.book)
    print(format_check_table(rows, engine.step_log))
    print(f"selectors: {engine.book.source}")
    if args.json:
        write_json_atomically(args.json, {
            "ok": error is None, "error": str(error) if error else None,
            "steps": [{"step": r.step, "what": r.what, "status": r.status,
                       "selector": r.matched, "seconds": r.seconds} for r in rows],
            "popups_closed": dict(engine.step_log.popups),
            "unknown_dialogs_closed": dict(engine.step_log.unknown_modals),
            "unknown_dialogs_left_open": dict(engine.step_log.left_open)})
    if error is not None:
        print(f"tvdesk: error: {error}", file=sys.stderr)
        return error.exit_code
    fallbacks = [r.step for r in rows if r.status == "FALLBACK"]
    if fallbacks:
        print(f"the flow works, but these steps needed a fallback selector: "
              f"{', '.join(fallbacks)}")
    else:
        print("the flow works")
    return 0


def confirm_after_run(args: argparse.Namespace, store: Any, run_id: str,
                      engine: TradingViewEngine | None) -> None:
    """`tvdesk optimize --confirm-top K`: re-run the K best trials on TradingView."""
    from tvdesk.app.tradingview import confirm_top

    async def main() -> list:
        own = engine is None
        tv = engine or make_engine(args, pages=1)
        try:
            return await confirm_top(store, run_id, args.confirm_top, tv, notify=notify)
        finally:
            if own:
                await tv.close()

    for row in asyncio.run(main()):
        outcome = row.error or row.summary
        print(f"  confirm trial {row.local_trial} → TradingView trial "
              f"{row.tradingview_trial}: {outcome}")
