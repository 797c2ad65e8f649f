"""Report: TXT / XLSX / HTML / CSV / JSON from a stored run, or from one backtest.

A run that was stopped before its end has no tags yet; they are judged here from the ledger
(with the run's stored settings), so every report carries verdicts and the run-level
statistics.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from tvdesk.model import BacktestResult
from tvdesk.reports import FORMATS
from tvdesk.store import RunStore
from tvdesk.store.failures import StoreError


def parse_formats(text: str | None) -> tuple[str, ...]:
    """The formats a `--format` list names (every format when empty); InputError naming the
    valid ones for any other."""
    from tvdesk.errors import InputError

    if not text:
        return FORMATS
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown report format(s) {', '.join(unknown)}; expected any of "
                         f"{', '.join(FORMATS)}", source="--format")
    return formats


def run_robustness(store: RunStore, run_id: str) -> dict:
    """The run-level statistics of its last judgement, judging the run now if it has none."""
    judged = store.events(run_id, kind="judged")
    if judged:
        return dict(judged[-1].payload.get("robustness") or {})
    if store.read_only:
        raise StoreError(f"run {run_id} was never judged (it ended before its last step) and "
                         "its quality tags cannot be saved in a store that cannot be written; "
                         "report on it once from a writable copy", path=str(store.path),
                         kind="read_only")
    from tvdesk.optimize.judging import judge_stored_run
    from tvdesk.optimize.settings import stored_settings

    settings = stored_settings(store, run_id)
    judgement = judge_stored_run(store, run_id, settings)
    store.add_event(run_id, "judged", {"robustness": judgement.robustness})
    return judgement.robustness


def write_run_report(store: RunStore, run_id: str, out_dir: Path,
                     formats: Iterable[str] = FORMATS, *, top: int = 5) -> list[Path]:
    from tvdesk.reports import report_from_store, write_reports

    robustness = run_robustness(store, run_id)
    data = report_from_store(store, run_id, top=top)
    data = replace(data, robustness={**data.robustness, **robustness})
    return write_reports(data, out_dir, formats, json_document=store.export_json(run_id))


def write_result_report(result: BacktestResult, out_dir: Path, *, title: str,
                        formats: Iterable[str] = FORMATS) -> list[Path]:
    from tvdesk.reports import report_from_result, write_reports

    data = report_from_result(result, title=title)
    return write_reports(data, out_dir, formats, json_document=result.to_dict())
