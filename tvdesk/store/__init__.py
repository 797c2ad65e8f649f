"""The optimiser's run store: one SQLite file holding runs, trials, sources, events, LLM talk.

It is what makes a long optimisation resumable after a crash (`--resume`), makes a parameter
set never run twice (dedupe by `params_key`), and feeds the reports and overfitting statistics.
`schema` opens and migrates the file; `records` holds the row types and encodings; `runstore`
the queries.
"""

from __future__ import annotations

from pathlib import Path

from tvdesk import paths
from tvdesk.store.records import (
    ChartRecord,
    Event,
    LlmExchange,
    LlmOutcome,
    ModelStats,
    Proposer,
    RunInfo,
    RunStatus,
    Segment,
    SourceRow,
    TrialRow,
    TrialStatus,
    canonical_inputs,
    params_key,
    source_hash,
)
from tvdesk.store.runstore import RunStore
from tvdesk.store.schema import SCHEMA_VERSION


def default_store_path() -> Path:
    """Where runs are kept unless a path is given: the user's data folder (or TVDESK_HOME)."""
    return paths.data_dir() / "runs.sqlite"


__all__ = [
    "SCHEMA_VERSION",
    "ChartRecord",
    "Event",
    "LlmExchange",
    "LlmOutcome",
    "ModelStats",
    "Proposer",
    "RunInfo",
    "RunStatus",
    "RunStore",
    "Segment",
    "SourceRow",
    "TrialRow",
    "TrialStatus",
    "canonical_inputs",
    "default_store_path",
    "params_key",
    "source_hash",
]
