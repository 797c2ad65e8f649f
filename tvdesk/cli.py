"""The `tvdesk` command: parses flags, calls the application layer, prints.

Exit codes are the machine interface: 0 success, 1 the run failed, 2 bad usage or bad input.
Errors a user can act on are printed as one clear line on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from tvdesk import POWERED_BY, __version__
from tvdesk.errors import TvdeskError


def _add_data_flags(parser: argparse.ArgumentParser, *, script_required: bool = False) -> None:
    """The data and symbol flags every market-data command shares (parsed in one place)."""
    group = parser.add_argument_group("strategy, data and symbol")
    group.add_argument("--profile", help="profile name from the config file")
    group.add_argument("--script", required=script_required, metavar="FILE.pine",
                       help="Pine strategy file")
    group.add_argument("--data", metavar="FILE.csv",
                       help="OHLCV market data (TradingView chart export or common CSV layouts)")
    group.add_argument("--symbol", metavar="EXCHANGE:SYMBOL", help="symbol name")
    group.add_argument("--timeframe", metavar="TF", help="timeframe, e.g. 60 or 1D")
    group.add_argument("--timezone", metavar="TZ",
                       help="timezone of naive times in the data (IANA name, default UTC)")
    group.add_argument("--mintick", type=float, metavar="X", help="tick size")
    group.add_argument("--pointvalue", type=float, metavar="X", help="point value")
    group.add_argument("--currency", metavar="CCY", help="account currency (default USD)")
    group.add_argument("--from", dest="date_from", metavar="DATE",
                       help="first day of trading (earlier bars warm indicators up)")
    group.add_argument("--to", dest="date_to", metavar="DATE", help="last day of trading")
    group.add_argument("--input", dest="inputs", action="append", default=[],
                       metavar="TITLE=VALUE", help="override an input by title or name "
                       "(repeatable)")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvdesk",
        description="Backtest, judge and improve TradingView Pine Script strategies.",
        epilog=POWERED_BY,
    )
    parser.add_argument("--version", action="version",
                        version=f"tvdesk {__version__}\n{POWERED_BY}")
    parser.add_argument("--config", metavar="FILE", help="settings file (TOML)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ev = sub.add_parser("evaluate", help="backtest a strategy once and print its metrics")
    ev.add_argument("--engine", choices=["local"], default="local",
                    help="backtest engine (local: PyneCore, offline)")
    _add_data_flags(ev)
    ev.add_argument("--json", metavar="OUT", help="write the result document (JSON)")

    par = sub.add_parser("parity", help="compare the local engine with a TradingView "
                         "'List of trades' export")
    _add_data_flags(par)
    par.add_argument("--tv-trades", required=True, metavar="EXPORT",
                     help="TradingView List-of-trades export (.csv or .xlsx)")
    par.add_argument("--tv-timezone", metavar="TZ",
                     help="timezone of the export's times (the chart's; default: --timezone)")
    par.add_argument("--json", metavar="OUT", help="write the parity report (JSON)")

    imp = sub.add_parser("import", help="read TradingView exports into result documents")
    imp.add_argument("files", nargs="+", metavar="FILE", help="XLSX or CSV export(s)")
    imp.add_argument("--timezone", default="UTC", metavar="TZ",
                     help="chart timezone of the export's times")
    imp.add_argument("--json", metavar="OUT",
                     help="write the result document (with several files: a list)")

    sub.add_parser("gui", help="open the desktop workbench")
    return parser


def _options(args: argparse.Namespace):
    from tvdesk.app.requests import RunOptions

    return RunOptions(
        script=args.script, data=args.data, symbol=args.symbol, timeframe=args.timeframe,
        timezone=args.timezone, mintick=args.mintick, pointvalue=args.pointvalue,
        currency=args.currency, date_from=args.date_from, date_to=args.date_to,
        inputs=tuple(args.inputs),
    )


def _request(args: argparse.Namespace):
    from tvdesk.app.requests import build_request
    from tvdesk.config import load_settings

    settings = load_settings(args.config)
    profile = settings.profile(args.profile) if args.profile else None
    return build_request(_options(args), profile, default_timezone=settings.timezone)


async def _run_local(request):
    from tvdesk.app.evaluate import evaluate
    from tvdesk.engines.local import LocalEngine

    async with LocalEngine(processes=1) as engine:
        return await evaluate(request, engine)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from tvdesk.app.files import write_json_atomically
    from tvdesk.app.summary import format_summary

    request = _request(args)
    result = asyncio.run(_run_local(request))
    print(format_summary(result))
    if args.json:
        write_json_atomically(args.json, result.to_dict())
        print(f"result written to {args.json}")
    return 0


def _cmd_parity(args: argparse.Namespace) -> int:
    from tvdesk.app.files import write_json_atomically
    from tvdesk.app.parity import compare_trades
    from tvdesk.app.requests import check_timezone
    from tvdesk.exports import read_trades

    request = _request(args)
    tv_tz = check_timezone(args.tv_timezone or request.symbol.timezone, "--tv-timezone")
    tv_trades = read_trades(args.tv_trades, timezone=tv_tz)
    result = asyncio.run(_run_local(request))
    mintick = float(result.properties["tick_size"])
    report = compare_trades(result.trades, tv_trades, mintick=mintick)
    if report.window:
        print(f"window: {report.window[0]:%Y-%m-%d %H:%M} → {report.window[1]:%Y-%m-%d %H:%M}")
    print(f"TradingView trades: {report.tv_trades}, engine trades in window: "
          f"{report.engine_trades}")
    for mismatch in report.mismatches[:10]:
        print("  " + mismatch.describe())
    if len(report.mismatches) > 10:
        print(f"  ... {len(report.mismatches) - 10} more differences")
    if args.json:
        write_json_atomically(args.json, report.to_dict())
    print(report.summary_line())
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from tvdesk.app.files import write_json_atomically
    from tvdesk.app.requests import check_timezone
    from tvdesk.app.summary import format_summary
    from tvdesk.exports import read_export

    tz = check_timezone(args.timezone)
    results = [read_export(path, timezone=tz) for path in args.files]
    for path, result in zip(args.files, results, strict=True):
        print(format_summary(result, title=Path(path).name))
    if args.json:
        documents = [r.to_dict() for r in results]
        write_json_atomically(args.json, documents[0] if len(documents) == 1 else documents)
    return 0


def _cmd_gui(_args: argparse.Namespace) -> int:
    print("tvdesk: the desktop workbench is not built yet; use the CLI commands "
          "(tvdesk --help)", file=sys.stderr)
    return 1


_COMMANDS = {"evaluate": _cmd_evaluate, "parity": _cmd_parity, "import": _cmd_import,
             "gui": _cmd_gui}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return _COMMANDS[args.command](args)
    except TvdeskError as exc:
        print(f"tvdesk: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tvdesk: cancelled", file=sys.stderr)
        return 1


def gui_main() -> int:
    return main(["gui"])


if __name__ == "__main__":
    sys.exit(main())
