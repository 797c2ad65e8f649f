"""`tvdesk optimize`: its flags, the run with a live progress display, the closing summary,
and `--confirm-top` on TradingView afterwards."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from tvdesk.cli_tradingview import add_browser_flags

if TYPE_CHECKING:
    from tvdesk.app.requests import RunOptions
    from tvdesk.optimize.loop import RunOutcome
    from tvdesk.store import RunStore


def add_watchlist_flags(group: argparse._ArgumentGroup) -> None:
    """--symbols, --watchlist and --timeframes (evaluate and optimize)."""
    group.add_argument("--symbols", metavar="A,B,...",
                       help="run on these symbols of the market data library (tvdesk data "
                       "add), e.g. BINANCE:BTCUSDT,BINANCE:ETHUSDT")
    group.add_argument("--watchlist", metavar="NAME",
                       help="the symbols of a [watchlists] entry of the config")
    group.add_argument("--timeframes", metavar="TF,...",
                       help="with --symbols: run each symbol on these timeframes, e.g. "
                       "15,60,240 (built from a lower timeframe when not held)")


def add_optimize_parser(sub: argparse._SubParsersAction,
                        add_data_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    opt = sub.add_parser("optimize", help="improve a strategy within a budget, the best "
                         "meeting your targets (parameter search, LLM rewrites)")
    opt.add_argument("--engine", choices=["local", "tradingview"], default=None,
                     help="backtest engine (default: local)")
    add_data_flags(opt)
    run = opt.add_argument_group("run")
    run.add_argument("--store", metavar="FILE", help="run store (SQLite; default in the "
                     "user data folder)")
    run.add_argument("--resume", metavar="RUN", help="continue a run (its id, or 'latest') "
                     "with its stored settings")
    run.add_argument("--seed", type=int, default=42, help="random seed (reproducible runs)")
    run.add_argument("--process-count", type=int, default=None, metavar="N",
                     help="workers in parallel (default: config, else 1); with the "
                     "tradingview engine, pages in one browser")
    run.add_argument("--confirm-top", type=int, default=0, metavar="K",
                     help="afterwards, re-run the K best trials on TradingView and store "
                     "both results with the parity of their trades")
    add_browser_flags(opt)
    run.add_argument("--proposer", choices=["params", "llm", "both"], default="params")
    run.add_argument("--sampler", choices=["tpe", "random", "grid"], default="tpe")
    run.add_argument("--conditions", metavar="LIST",
                     help="values of the condition input, each its own track: 1,3,5 or 1-10")
    run.add_argument("--condition-input", metavar="TITLE", default=None,
                     help="title of the condition input (default 'Condition')")
    run.add_argument("--holdout", default="20%", metavar="PCT",
                     help="last share of the bars kept out of the search (default 20%%)")
    run.add_argument("--workspace", metavar="DIR", help="folder for the workers' pc_<n>.pine")
    watch = opt.add_argument_group("watchlist: find inputs that work on several charts")
    add_watchlist_flags(watch)
    watch.add_argument("--aggregate", choices=["median", "min", "mean"], default=None,
                       help="the trial's objective over its charts (default median; min: the "
                       "worst chart); targets hold on every chart")
    watch.add_argument("--search-timeframe", action="store_true",
                       help="make the timeframe a searched parameter (each trial runs on the "
                       "watchlist's charts of one of --timeframes)")
    llm = opt.add_argument_group("LLM rewrites (API key from the OS keyring)")
    llm.add_argument("--llm-base-url", metavar="URL",
                     help="OpenAI-compatible endpoint (default OpenAI; e.g. a local Ollama)")
    llm.add_argument("--llm-models", metavar="A,B", help="models to use")
    llm.add_argument("--model", default=None, metavar="NAME|auto",
                     help="model to use, or 'auto': pick by measured success rate and latency")
    llm.add_argument("--llm-study-trials", type=int, default=None, metavar="N",
                     help="with --proposer both: parameter trials per new structure")
    lim = opt.add_argument_group("targets and limits")
    lim.add_argument("--min-trades", type=float, metavar="N")
    lim.add_argument("--max-drawdown", type=float, metavar="PCT")
    lim.add_argument("--min-profit-factor", type=float, metavar="X")
    lim.add_argument("--target", action="append", default=[], metavar="EXPR",
                     help="any metric constraint, e.g. 'sharpe_ratio>=0.3' (repeatable)")
    lim.add_argument("--target-potential", action="append", default=[], metavar="EXPR",
                     help="looser thresholds that mark a trial 'potential' (repeatable)")
    lim.add_argument("--objective", action="append", default=[], metavar="KEY[:max|:min]",
                     help="metric to optimise (default net_profit_percent:max); repeat for "
                     "a multi-objective search")
    lim.add_argument("--max-iterations", type=int, default=100, metavar="N",
                     help="trials per condition track, shared by its workers")
    lim.add_argument("--max-consecutive-errors", type=int, default=10, metavar="N")
    lim.add_argument("--max-duplicate-consecutive-errors", type=int, default=5, metavar="N")
    lim.add_argument("--max-llm-calls", type=int, default=None, metavar="N",
                     help="requests the run may send to the LLM endpoint, retries included "
                     "(default: 3 per trial allowed by --max-iterations)")
    lim.add_argument("--time-budget", type=float, metavar="SECONDS",
                     help="stop starting new trials after this long")
    lim.add_argument("--stop-on-target", action="store_true", default=False,
                     help="stop a condition track at the first trial meeting the targets "
                     "(default: targets filter and steer, and the whole budget is spent "
                     "looking for better; also stop_on_target in the config's [optimize])")
    opt.add_argument("--cluster", metavar="ADDRESS",
                     help="run the backtests on the workers of a Dask scheduler "
                     "(tcp://HOST:8786 or tls://...; 'local': this machine); default: address "
                     "in the config's [cluster] table. --process-count is then how many trials "
                     "are in flight at once (about the cluster's total threads)")
    git = opt.add_argument_group("git: commit each new best")
    git.add_argument("--git-commit", nargs="?", const=True, default=False, metavar="DIR",
                     help="commit each new best (the worker's pc_<n>.pine and best.pine, the "
                     "trial's script with its inputs as defaults) to the repository DIR, else "
                     "--git-repo, else git_repository in the config's [optimize] table")
    git.add_argument("--git-repo", metavar="DIR",
                     help="the repository for --git-commit (implies it); a new or empty "
                     "folder becomes one")


def cmd_optimize(args: argparse.Namespace, options: RunOptions) -> int:
    from tvdesk.app.engines import with_cluster
    from tvdesk.app.optimize import resolve_run_id, run_optimization
    from tvdesk.cli_progress import ProgressPrinter, consume
    from tvdesk.config import load_settings
    from tvdesk.events import EventStream
    from tvdesk.optimize.settings import stored_settings
    from tvdesk.store import RunStore, default_store_path

    config = with_cluster(load_settings(args.config), args.cluster)
    if isinstance(args.git_commit, str):  # --git-commit DIR
        if args.git_repo and args.git_repo != args.git_commit:
            from tvdesk.errors import InputError

            raise InputError("two repositories given: --git-commit DIR and --git-repo DIR",
                             source="--git-commit")
        args.git_repo, args.git_commit = args.git_commit, True
    with RunStore.open(args.store or default_store_path()) as store:
        run_id = None
        if args.resume:
            run_id = resolve_run_id(store, args.resume)
            settings = stored_settings(store, run_id)
        else:
            from tvdesk.app.optimize_settings import settings_from_args

            settings = settings_from_args(args, config, options)
        events = EventStream()
        printer = ProgressPrinter(max_iterations=settings.max_iterations)
        engine = None
        if settings.engine == "tradingview":
            from tvdesk.cli_tradingview import make_engine

            engine = make_engine(args, pages=settings.process_count)

        async def main() -> RunOutcome:
            consumer = asyncio.ensure_future(consume(events.subscribe(), printer))
            try:
                return await run_optimization(settings, store, run_id=run_id, events=events,
                                              engine=engine, config=config)
            finally:
                events.close()  # this command made the stream: it ends it
                await asyncio.wait_for(consumer, timeout=5)

        try:
            outcome = asyncio.run(main())
            print(format_outcome(outcome, store))
            if args.confirm_top > 0:
                from tvdesk.cli_tradingview import confirm_after_run

                confirm_after_run(args, store, outcome.run_id, engine)
        finally:
            if engine is not None:
                asyncio.run(engine.close())
    return 0


def _fmt_number(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _chart_lines(metrics: dict, charts: list) -> list[str]:
    """A watchlist trial's charts: the cross-chart evidence, then a row per chart."""
    from tvdesk.viewmodels.watchlist import chart_rows, format_table, header

    dispersion = metrics.get("chart_objective_dispersion")
    lines = [f"    on {len(charts)} charts: profitable on "
             f"{metrics.get('charts_profitable_percent', 0):.0f}%, objective dispersion "
             + (f"{dispersion:.2f}" if isinstance(dispersion, float) else "n/a")]
    table = format_table(chart_rows([(c.label, c.metrics) for c in charts]), header())
    lines.extend("      " + line for line in table.splitlines())
    return lines


def format_outcome(outcome: RunOutcome, store: RunStore) -> str:
    if outcome.already_finished:
        done = store.count_trials(outcome.run_id, status="done", segment="in_sample")
        return (f"run {outcome.run_id} is already finished ({done} trials); nothing was run.\n"
                f"Its reports: tvdesk report --run {outcome.run_id} --out DIR\n"
                f"store: {store.path}")
    lines = [f"run {outcome.run_id}: {outcome.status}"]
    for condition, track in outcome.tracks.items():
        label = f"condition {condition}" if condition is not None else "strategy"
        lines.append(f"  {label}: {track.iterations} trials; stopped: {track.stop_reason}")
        if outcome.targets:
            wanted = ", ".join(outcome.targets)
            lines.append(f"    targets ({wanted}): met by {track.targets_met} of "
                         f"{track.iterations} trials" + (f", first trial {track.met_by}"
                                                         if track.met_by is not None else ""))
        if track.best is not None:
            m = track.best.metrics
            lines.append(f"    best trial {track.best.id}: net profit "
                         f"{m.get('net_profit_percent', 0):+.2f}%, max drawdown "
                         f"{m.get('max_drawdown_percent', 0):.2f}%, trades "
                         f"{m.get('total_trades')}, profit factor "
                         f"{_fmt_number(m.get('profit_factor'))}")
            lines.append("    inputs: " + ", ".join(f"{k}={v}"
                                                    for k, v in track.best.inputs.items()))
            charts = store.chart_results(track.best.id)
            if charts:
                lines.extend(_chart_lines(m, charts))
        holdout = outcome.holdout.get(condition)
        if holdout is not None:
            lines.append(f"    holdout: net profit "
                         f"{holdout.metrics.get('net_profit_percent', 0):+.2f}%, max drawdown "
                         f"{holdout.metrics.get('max_drawdown_percent', 0):.2f}%")
    if outcome.git is not None:
        from tvdesk.optimize.git_best import summary_lines

        lines.extend(summary_lines(outcome.git))
    lines.append(f"store: {store.path}")
    return "\n".join(lines)
