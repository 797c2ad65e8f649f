"""`tvdesk data`: the market data library (add, list, remove).

    tvdesk data add FILE... --symbol BINANCE:BTCUSDT [--timeframe 15] [--mintick 0.01] ...
    tvdesk data list
    tvdesk data remove BINANCE:BTCUSDT [--timeframe 15]

Watchlist runs (`--symbols` on evaluate and optimize) read their bars from this library.
"""

from __future__ import annotations

import argparse

from tvdesk.errors import InputError


def add_data_parser(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="the market data library: add chart exports, list them")
    data.add_argument("--library", metavar="DIR",
                      help="library folder (default: the data folder's library/)")
    actions = data.add_subparsers(dest="data_action", metavar="ACTION")
    add = actions.add_parser("add", help="register chart-data CSVs of one symbol (merged with "
                             "the bars the library already holds)")
    add.add_argument("files", nargs="+", metavar="FILE", help="chart-data CSV file(s)")
    add.add_argument("--symbol", metavar="EXCHANGE:SYMBOL",
                     help="the files' symbol (default: named by a TradingView chart export's "
                     "file name, 'BINANCE_BTCUSDT, 60.csv')")
    add.add_argument("--timeframe", metavar="TF",
                     help="the files' timeframe, checked against the bars (default: detected)")
    add.add_argument("--mintick", type=float, metavar="X", help="tick size")
    add.add_argument("--pointvalue", type=float, metavar="X", help="point value")
    add.add_argument("--currency", metavar="CCY", help="the symbol's currency")
    add.add_argument("--timezone", metavar="TZ",
                     help="timezone of naive times in the files and the exchange timezone "
                     "days start in (IANA name; default UTC, or the series' own)")
    add.add_argument("--session", metavar="HHMM-HHMM[:DAYS]",
                     help="trading session (default: 24 hours from midnight)")
    add.add_argument("--replace", action="store_true",
                     help="start the series again instead of merging into it")
    actions.add_parser("list", help="show every series: symbol, timeframe, first/last bar, "
                       "bars, gaps")
    remove = actions.add_parser("remove", help="delete a symbol's series")
    remove.add_argument("symbol", metavar="EXCHANGE:SYMBOL")
    remove.add_argument("--timeframe", metavar="TF", help="only this timeframe")


def cmd_data(args: argparse.Namespace) -> int:
    from tvdesk.data.library import Library

    library = Library(args.library)
    if args.data_action == "add":
        return _add(library, args)
    if args.data_action == "remove":
        removed = library.remove(args.symbol, args.timeframe)
        if not removed:
            raise InputError(f"the library holds no series of {args.symbol}"
                             + (f" at {args.timeframe}" if args.timeframe else ""),
                             source="tvdesk data remove")
        for entry in removed:
            print(f"removed {entry.label} ({entry.bars} bars)")
        return 0
    return _list(library)


def _symbol_of(args: argparse.Namespace) -> str:
    if args.symbol:
        return str(args.symbol)
    from tvdesk.engines.local.symbols import symbol_from_file_name

    named = {symbol_from_file_name(str(f)) for f in args.files}
    symbols = {n[0] for n in named if n}
    if len(symbols) == 1 and None not in named:
        return symbols.pop()
    raise InputError("give the files' symbol with --symbol EXCHANGE:SYMBOL (only TradingView "
                     "chart exports named 'EXCHANGE_SYMBOL, TF.csv' name it themselves)",
                     source="--symbol")


def _add(library, args: argparse.Namespace) -> int:
    from tvdesk.app.requests import check_positive, check_timezone

    check_positive(args.mintick, "--mintick")
    check_positive(args.pointvalue, "--pointvalue")
    timezone = check_timezone(args.timezone) if args.timezone else None
    reports = library.add(args.files, symbol=_symbol_of(args), timeframe=args.timeframe,
                          mintick=args.mintick, pointvalue=args.pointvalue,
                          currency=args.currency, timezone=timezone, session=args.session,
                          replace=args.replace)
    for report in reports:
        e = report.entry
        what = "new series" if report.created else "merged"
        print(f"{e.label}: {what}; {report.new_bars} new bars, {report.replaced_bars} "
              f"overlapping bars replaced; now {e.bars} bars {e.first()} .. {e.last()} UTC, "
              f"{e.gaps} gaps")
    return 0


def _list(library) -> int:
    from tvdesk.data.library import describe

    entries = library.entries()
    if not entries:
        print(f"the market data library is empty ({library.root}); add bars with "
              "`tvdesk data add FILE --symbol EXCHANGE:SYMBOL`")
        return 0
    header = ["symbol", "timeframe", "first bar (UTC)", "last bar (UTC)", "bars", "gaps",
              "facts"]
    rows = [header, *describe(entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [cell.ljust(width) if i < 2 else cell.rjust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=False))]
        print("  ".join([*cells, row[-1]]))
    return 0
