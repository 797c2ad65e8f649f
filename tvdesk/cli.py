"""The `tvdesk` command: parses flags, calls the application layer, prints.

Exit codes are the machine interface: 0 success; 1 a run that failed for another reason
(environment, engine crash, a runtime error of a valid script); 2 anything wrong with what the
user gave (data, Pine script, exports, config, flags, inputs).
Errors a user can act on are printed as one clear line on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tvdesk import POWERED_BY, __version__
from tvdesk.cli_data import add_data_parser, cmd_data
from tvdesk.cli_optimize import add_optimize_parser, add_watchlist_flags, cmd_optimize
from tvdesk.cli_tradingview import add_browser_flags, add_tv_parser, cmd_tv
from tvdesk.errors import TvdeskError

if TYPE_CHECKING:
    from tvdesk.model import BacktestRequest


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
    group.add_argument("--session", metavar="HHMM-HHMM[:DAYS]",
                       help="trading session as TradingView writes it, e.g. 0930-1600 or "
                       "1700-1700:23456 (default: 24 hours from midnight); higher-timeframe "
                       "bars start at its open")
    group.add_argument("--from", dest="date_from", metavar="DATE",
                       help="first day of trading (earlier bars warm indicators up)")
    group.add_argument("--to", dest="date_to", metavar="DATE", help="last day of trading")
    group.add_argument("--input", dest="inputs", action="append", default=[],
                       metavar="TITLE=VALUE", help="override an input by title or name "
                       "(repeatable)")
    group.add_argument("--security", action="append", default=[], metavar="SYMBOL=FILE",
                       help="bars of another symbol for request.security (repeatable); the "
                       "chart symbol's higher timeframes are built from --data")
    group.add_argument("--magnifier-data", metavar="FILE",
                       help="lower-timeframe bars of the chart symbol: fill orders inside "
                       "each bar as TradingView's Bar magnifier does")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvdesk",
        description="Backtest, judge and improve TradingView Pine Script strategies.",
        epilog=POWERED_BY,
    )
    parser.add_argument("--version", action="version",
                        version=f"tvdesk {__version__}\n{POWERED_BY}")
    parser.add_argument("--config", metavar="FILE", help="settings file (TOML)")
    parser.add_argument("--self-test", action="store_true",
                        help="offline backtest of the bundled example; exit 0 when it works")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ev = sub.add_parser("evaluate", help="backtest a strategy once and print its metrics")
    ev.add_argument("--engine", choices=["local", "tradingview"], default="local",
                    help="backtest engine (local: PyneCore, offline; tradingview: the real "
                    "site in a browser, with the account in the OS keyring)")
    _add_data_flags(ev)
    add_browser_flags(ev)
    ev.add_argument("--conditions", metavar="LIST",
                    help="also run each value of the condition input: 1,3,5 or 1-10")
    ev.add_argument("--condition-input", metavar="TITLE", default="Condition",
                    help="title of the condition input (default 'Condition')")
    ev.add_argument("--json", metavar="OUT", help="write the result document (JSON; with "
                    "--conditions a list: baseline first; with --symbols one per chart)")
    add_watchlist_flags(ev.add_argument_group("watchlist"))
    ev.add_argument("--report", metavar="DIR", help="also write TXT/XLSX/HTML/CSV/JSON reports")
    ev.add_argument("--cluster", metavar="ADDRESS",
                    help="run the backtests on a Dask cluster (tcp://HOST:8786; 'local': this "
                    "machine); default: address in the config's [cluster] table")
    ev.add_argument("--from-exports", nargs="?", const="", metavar="DIR",
                    help="no backtest: read the TradingView exports already downloaded in DIR "
                    "(default: the data folder's sheets/)")

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

    add_optimize_parser(sub, _add_data_flags)
    rep = sub.add_parser("report", help="write reports of an optimisation run")
    rep.add_argument("--store", metavar="RUNS.db", help="run store (default in the data folder)")
    rep.add_argument("--run", default="latest", metavar="ID", help="run id (default: latest)")
    rep.add_argument("--out", required=True, metavar="DIR", help="reports folder")
    rep.add_argument("--format", metavar="LIST", help="txt,xlsx,html,csv,json (default: all)")
    rep.add_argument("--top", type=int, default=5, metavar="K",
                     help="detailed sheets for the K best trials per condition")
    runs = sub.add_parser("runs", help="list the runs in a store, or export one as JSON")
    runs.add_argument("--store", metavar="FILE", help="run store (default in the data folder)")
    runs.add_argument("--export", metavar="RUN", help="run id (or 'latest') to export")
    runs.add_argument("--json", metavar="OUT", help="where to write the export")
    pine = sub.add_parser("export-pine", help="write a trial's Pine script with the trial's "
                          "inputs as defaults, ready to paste into TradingView")
    pine.add_argument("--store", metavar="FILE", help="run store (default in the data folder)")
    pine.add_argument("--run", metavar="ID", help="run id the trial must belong to")
    pine.add_argument("--trial", required=True, type=int, metavar="ID", help="trial id")
    pine.add_argument("--out", required=True, metavar="FILE.pine", help="where to write it")
    cred = sub.add_parser("credentials", help="store, check or delete credentials in the OS "
                          "keyring")
    cred.add_argument("action", choices=["set", "check", "delete"])
    cred.add_argument("account", choices=["tradingview", "llm"])
    cred.add_argument("--allow-plaintext-keyring", action="store_true",
                      help="with set: store the secrets even when the keyring backend is an "
                           "unencrypted file (keyrings.alt's PlaintextKeyring); refused without")
    add_browser_flags(cred)
    add_tv_parser(sub)
    add_data_parser(sub)
    sub.add_parser("gui", help="open the desktop workbench (tvdesk gui --help)")
    return parser


def _options(args: argparse.Namespace):
    from tvdesk.app.requests import RunOptions

    return RunOptions(
        script=args.script, data=args.data, symbol=args.symbol, timeframe=args.timeframe,
        timezone=args.timezone, mintick=args.mintick, pointvalue=args.pointvalue,
        currency=args.currency, date_from=args.date_from, date_to=args.date_to,
        inputs=tuple(args.inputs), security=tuple(args.security),
        magnifier_data=args.magnifier_data, session=args.session,
    )


def _request(args: argparse.Namespace):
    from tvdesk.app.requests import build_request
    from tvdesk.config import load_settings

    settings = load_settings(args.config)
    profile = settings.profile(args.profile) if args.profile else None
    return build_request(_options(args), profile, default_timezone=settings.timezone,
                         engine=getattr(args, "engine", None) or "local")


def _run(request, args: argparse.Namespace):
    if getattr(args, "engine", "local") == "tradingview":
        from tvdesk.cli_tradingview import evaluate_on_tradingview

        return asyncio.run(evaluate_on_tradingview(request, args))
    return asyncio.run(_run_local(request, args))


def _local_engine(args: argparse.Namespace, workers: int):
    """The local engine, or the Dask cluster's (`--cluster`, or the config's [cluster])."""
    from tvdesk.app.engines import make_engine, with_cluster
    from tvdesk.config import load_settings

    config = with_cluster(load_settings(args.config), getattr(args, "cluster", None))
    return make_engine("local", config, workers=workers,
                       notify=lambda text: print(text, file=sys.stderr))


async def _run_local(request, args: argparse.Namespace):
    from tvdesk.app.evaluate import evaluate

    async with _local_engine(args, workers=1) as engine:
        return await evaluate(request, engine)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from tvdesk.fileio import write_json_atomically
    from tvdesk.viewmodels.summary import format_summary

    if args.from_exports is not None:
        return _evaluate_from_exports(args)
    choice = _watchlist(args)
    if choice:
        return _evaluate_watchlist(args, choice)
    request = _request(args)
    if args.conditions:
        return _evaluate_conditions(args, request)
    result = _run(request, args)
    _print_symbol_facts(result)
    print(format_summary(result))
    if args.json:
        write_json_atomically(args.json, result.to_dict())
        print(f"result written to {args.json}")
    if args.report:
        from tvdesk.app.report import write_result_report

        title = request.strategy.title or Path(request.strategy.path or "strategy").stem
        for path in write_result_report(result, Path(args.report), title=title):
            print(f"report: {path}")
    return 0


def _watchlist(args: argparse.Namespace):
    from tvdesk.app.watchlist import watchlist_choice
    from tvdesk.config import load_settings

    settings = load_settings(args.config)
    profile = settings.profile(args.profile) if args.profile else None
    return watchlist_choice(symbols=args.symbols, timeframes=args.timeframes,
                            watchlist=args.watchlist, settings=settings, profile=profile,
                            data=args.data)


def _evaluate_watchlist(args: argparse.Namespace, choice) -> int:
    """The strategy on every chart of the watchlist: a table, and a list of result documents
    (one per chart, each with properties.symbol and properties.timeframe)."""
    from tvdesk.app.watchlist import evaluate_charts, refuse_single_chart_flags, resolve_charts
    from tvdesk.errors import InputError
    from tvdesk.fileio import write_json_atomically
    from tvdesk.viewmodels.watchlist import chart_rows, format_table, header

    if args.engine == "tradingview":
        raise InputError("watchlist runs use the local engine", source="--symbols")
    for flag, value in (("--conditions", args.conditions), ("--report", args.report)):
        if value:
            raise InputError(f"{flag} runs on one chart; not with a watchlist", source=flag)
    options = _options(args)
    refuse_single_chart_flags(options)
    charts = resolve_charts(choice.symbols, choice.timeframes)
    request = _request(args)

    async def run_all() -> list:
        workers = min(len(charts), os.cpu_count() or 1)
        async with _local_engine(args, workers=workers) as engine:
            return await evaluate_charts(request, charts, engine)

    results = asyncio.run(run_all())
    print(format_table(chart_rows([(c.label, dict(r.metrics)) for c, r in results]), header()))
    if args.json:
        write_json_atomically(args.json, [r.to_dict() for _, r in results])
        print(f"{len(results)} result documents written to {args.json}")
    return 0


def _print_symbol_facts(result) -> None:
    """What the local engine took the symbol to be, and where each fact came from: a wrong
    tick size or point value changes every trade, so a trader must see what was assumed."""
    facts = result.properties.get("symbol_facts")
    if facts:
        print("symbol facts: " + "; ".join(facts))


def _evaluate_conditions(args: argparse.Namespace, request: BacktestRequest) -> int:
    """The baseline, then each listed condition, on one warm engine."""
    from tvdesk.app.evaluate import evaluate_conditions
    from tvdesk.fileio import write_json_atomically
    from tvdesk.optimize.settings import parse_conditions
    from tvdesk.viewmodels.summary import format_summary

    conditions = parse_conditions(args.conditions)

    async def run_all() -> list:
        if args.engine != "tradingview":
            workers = min(len(conditions) + 1, os.cpu_count() or 1)
            async with _local_engine(args, workers=workers) as engine:
                return await evaluate_conditions(request, conditions, args.condition_input,
                                                 engine)
        from tvdesk.cli_tradingview import make_engine

        async with make_engine(args, pages=1) as engine:
            return await evaluate_conditions(request, conditions, args.condition_input, engine)

    results = asyncio.run(run_all())
    for label, result in results:
        print(format_summary(result, title=label))
        print()
    if args.json:
        write_json_atomically(args.json, [r.to_dict() for _, r in results])
    return 0


def _evaluate_from_exports(args: argparse.Namespace) -> int:
    """Summarise every TradingView export in a folder; the timezone flag is checked first so a
    bad one is reported against --timezone, not as a problem of whichever export read it."""
    from tvdesk import paths
    from tvdesk.app.requests import check_timezone
    from tvdesk.errors import InputError
    from tvdesk.exports import find_exports, read_export
    from tvdesk.fileio import write_json_atomically
    from tvdesk.viewmodels.summary import format_summary

    tz = check_timezone(args.timezone) if args.timezone else "UTC"
    folder = Path(args.from_exports) if args.from_exports else paths.data_dir() / "sheets"
    files = find_exports(folder)
    if not files:
        raise InputError("no TradingView exports (.xlsx or .csv) found", source=str(folder))
    results = [read_export(path, timezone=tz) for path in files]
    for path, result in zip(files, results, strict=True):
        print(format_summary(result, title=path.name))
        print()
    if args.json:
        write_json_atomically(args.json, [r.to_dict() for r in results])
    return 0


def _cmd_parity(args: argparse.Namespace) -> int:
    from tvdesk.app.parity import compare_trades
    from tvdesk.app.requests import check_timezone
    from tvdesk.exports import read_trades
    from tvdesk.fileio import write_json_atomically

    request = _request(args)
    tv_tz = check_timezone(args.tv_timezone or request.symbol.timezone, "--tv-timezone")
    tv_trades = read_trades(args.tv_trades, timezone=tv_tz)
    if request.date_from is None and request.data_path:
        from dataclasses import replace

        from tvdesk.app.parity import trading_start
        from tvdesk.data.market_data import load_bars

        bars = load_bars(request.data_path, timezone=request.symbol.timezone)
        start = trading_start(tv_trades, bars.times.tolist())
        if start is not None:
            request = replace(request, date_from=start)
            print(f"trading from {start:%Y-%m-%d %H:%M} (one bar before TradingView's first "
                  "entry; earlier bars only warm indicators up; --from overrides)")
    result = asyncio.run(_run_local(request, args))
    _print_symbol_facts(result)
    mintick = float(result.properties["tick_size"])
    first, last = (datetime.fromisoformat(t) for t in result.properties["trading_range"])
    report = compare_trades(result.trades, tv_trades, mintick=mintick, data_span=(first, last))
    if report.outside_data:
        print(f"{report.outside_data} TradingView trades lie outside the data "
              f"({first:%Y-%m-%d %H:%M} → {last:%Y-%m-%d %H:%M}) and are not compared")
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
    from tvdesk.app.requests import check_timezone
    from tvdesk.exports import read_export
    from tvdesk.fileio import write_json_atomically
    from tvdesk.viewmodels.summary import format_summary

    tz = check_timezone(args.timezone)
    results = [read_export(path, timezone=tz) for path in args.files]
    for path, result in zip(args.files, results, strict=True):
        print(format_summary(result, title=Path(path).name))
    if args.json:
        documents = [r.to_dict() for r in results]
        write_json_atomically(args.json, documents[0] if len(documents) == 1 else documents)
    return 0


def _cmd_gui(argv: Sequence[str]) -> int:
    """The GUI parses its own flags (--demo, --screenshot, ...)."""
    from tvdesk.gui.app import run_gui

    return run_gui(argv)


def _cmd_report(args: argparse.Namespace) -> int:
    from tvdesk.app.optimize import resolve_run_id
    from tvdesk.app.report import parse_formats, write_run_report
    from tvdesk.store import RunStore, default_store_path

    formats = parse_formats(args.format)
    with RunStore.open_for_reading(args.store or default_store_path()) as store:
        run_id = resolve_run_id(store, args.run)
        for written in write_run_report(store, run_id, Path(args.out), formats, top=args.top):
            print(f"report: {written}")
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from tvdesk.app.optimize import resolve_run_id, run_state
    from tvdesk.errors import InputError
    from tvdesk.fileio import write_json_atomically
    from tvdesk.store import RunStore, default_store_path

    with RunStore.open_for_reading(args.store or default_store_path()) as store:
        if args.export:
            run_id = resolve_run_id(store, args.export)
            document = store.export_json(run_id)
            if not args.json:
                raise InputError("--export needs --json OUT", source="--json")
            write_json_atomically(args.json, document)
            print(f"run {run_id} written to {args.json}")
            return 0
        for run in store.list_runs():
            done = store.count_trials(run.id, status="done", segment="in_sample")
            print(f"{run.id}  {run_state(store, run):<11} {run.engine:<11} {done:>6} trials  "
                  f"{run.strategy_title}")
    return 0


def _cmd_export_pine(args: argparse.Namespace) -> int:
    from tvdesk.app.export_pine import write_trial_pine
    from tvdesk.app.optimize import resolve_run_id
    from tvdesk.store import RunStore, default_store_path

    store_path = args.store or default_store_path()
    run_id = None
    if args.run:
        with RunStore.open_for_reading(store_path) as store:
            run_id = resolve_run_id(store, args.run)
    exported = write_trial_pine(store_path, args.trial, args.out, run_id=run_id)
    for name, (before, after) in exported.changed.items():
        print(f"  {name}: {before} -> {after}")
    for note in exported.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"trial {exported.trial_id} of run {exported.run_id} written to {args.out}"
          + ("" if exported.changed else " (its inputs are the script's defaults already)"))
    return 0


def _cmd_credentials(args: argparse.Namespace) -> int:
    from tvdesk.app.credentials import check_credentials, delete_credentials, set_credentials

    if args.action == "set":
        print(set_credentials(args.account, sys.stdin,
                              allow_plaintext=args.allow_plaintext_keyring))
    elif args.action == "delete":
        print(delete_credentials(args.account))
    else:
        ok, message = asyncio.run(check_credentials(args.account, args.config,
                                                    show_browser=args.show_browser))
        print(message)
        return 0 if ok else 1
    return 0


def _cmd_optimize(args: argparse.Namespace) -> int:
    return cmd_optimize(args, _options(args))


_COMMANDS = {"evaluate": _cmd_evaluate, "parity": _cmd_parity, "import": _cmd_import,
             "optimize": _cmd_optimize, "report": _cmd_report, "runs": _cmd_runs,
             "credentials": _cmd_credentials, "tv": cmd_tv, "export-pine": _cmd_export_pine,
             "data": cmd_data}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from tvdesk.logs import setup_logging

    setup_logging()
    if argv[:1] == ["gui"]:
        return _cmd_gui(argv[1:])
    if argv[:1] == ["--self-test"]:
        return _self_test()
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
    except OSError as exc:  # a disk that filled up, a folder that vanished: the environment
        from tvdesk.errors import os_error_message

        print(f"tvdesk: error: {os_error_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tvdesk: cancelled", file=sys.stderr)
        return 1


def _self_test() -> int:
    """`tvdesk --self-test`: an offline backtest of the bundled example on the bundled data.

    Proves an installation (or a frozen build) has a working engine, transpiler, data reader
    and metrics, with no network and no account.
    """
    from tvdesk import paths

    script = paths.examples_dir() / "sma_cross.pine"
    data = paths.resources_dir() / "data" / "EURUSD_1h.csv"
    try:
        code = main(["evaluate", "--script", str(script), "--data", str(data),
                     "--symbol", "FX:EURUSD", "--mintick", "0.00001", "--pointvalue", "1"])
    except Exception as exc:  # the point is to report any failure, whatever it is
        print(f"tvdesk: self-test failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print("self-test passed" if code == 0 else "self-test failed")
    return code


def gui_main() -> int:
    return main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
