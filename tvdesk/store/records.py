"""The rows the run store hands out, and the encodings it stores them in.

Rows are frozen dataclasses with their JSON columns already decoded, so callers never see SQL
or JSON text. The encodings live here, apart from the SQL, because the optimiser needs some of
them without a store: `params_key` decides whether a parameter set was already run, and must
give the same answer in the worker that proposes a trial and in the store that records it.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import PurePath
from typing import Any, Literal, NamedTuple, get_args

RunStatus = Literal["running", "stopped", "finished", "failed"]
TrialStatus = Literal["running", "done", "error", "pruned"]
Proposer = Literal["params", "llm", "baseline", "confirm"]
Segment = Literal["in_sample", "holdout", "confirm"]
LlmOutcome = Literal[
    "ok", "error", "duplicate", "no_code", "compile_error", "refused", "timeout", "rate_limited",
]

RUN_STATUSES: frozenset[str] = frozenset(get_args(RunStatus))
TRIAL_STATUSES: frozenset[str] = frozenset(get_args(TrialStatus))
PROPOSERS: frozenset[str] = frozenset(get_args(Proposer))
SEGMENTS: frozenset[str] = frozenset(get_args(Segment))
LLM_OUTCOMES: frozenset[str] = frozenset(get_args(LlmOutcome))


def check_choice(name: str, value: str, allowed: frozenset[str]) -> None:
    """Refuse a value outside a column's vocabulary before it reaches the file.

    Only the state columns also carry a CHECK constraint in SQL; open vocabularies (proposer,
    LLM outcome) are checked here so that a later version can widen them without rebuilding a
    table that may hold a million trials.
    """
    if value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")


# --------------------------------------------------------------------------- time


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_text(moment: datetime) -> str:
    """Fixed-width UTC text, so that ORDER BY on the column is ORDER BY time."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# --------------------------------------------------------------------------- JSON and hashes


def plain(value: Any) -> Any:
    """Turn a settings-like value into plain JSON: NaN/inf become null, dates and paths text.

    Anything else that is not JSON is refused: a snapshot that silently turned an object into
    its repr could not be resumed from.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"cannot store a {type(value).__name__} in the run store: {value!r}")


def dumps(value: Any) -> str:
    """Compact JSON with sorted keys: equal values give equal text (and equal hashes)."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def canonical_inputs(inputs: Mapping[str, Any]) -> str:
    """The canonical JSON of a parameter set: sorted keys, no whitespace.

    Values are kept exactly (14 and 14.0 differ, True and 1 differ) because the engine treats
    them differently; a NaN input is refused rather than silently turned into null, which
    would make two different parameter sets one.
    """
    return json.dumps(dict(inputs), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def source_hash(pine: str) -> str:
    """The identity of an exact Pine text: the first 32 hex digits of its SHA-256."""
    return hashlib.sha256(pine.encode("utf-8")).hexdigest()[:32]


def params_key(source: str, inputs: Mapping[str, Any]) -> str:
    """The dedupe key of a trial: the same source with the same inputs is the same backtest."""
    text = f"{source}\n{canonical_inputs(inputs)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Same words as tvdesk.config refuses in settings files; counts like max_tokens are numbers.
_SECRET_WORDS = ("password", "passwd", "secret", "api_key", "apikey", "token", "totp")


def refuse_secrets(where: str, value: Any, prefix: str = "") -> None:
    """Refuse a mapping holding text under a key that names a secret.

    Settings snapshots and event payloads are free-form, so this is the last line before a
    key read from the keyring could land in a file people copy around. The name of an
    environment variable is fine (`api_key_env`), a number is fine (`max_tokens`), and so is
    anything about tokens in the plural (`token_usage` of an LLM reply is not a credential).
    """
    if isinstance(value, Mapping):
        for key, item in value.items():
            lowered = str(key).casefold()
            words = lowered.replace("tokens", "")  # token counts and usage are not secrets
            secret_name = any(word in words for word in _SECRET_WORDS)
            if (secret_name and not lowered.endswith(("_env", "_name"))
                    and isinstance(item, str) and item):
                raise ValueError(
                    f"{where}: key '{prefix}{key}' looks like a secret; the run store never "
                    "keeps secrets (store the name of the keyring entry or variable instead)")
            if not lowered.endswith("inputs"):  # Pine input titles are the script's words
                refuse_secrets(where, item, f"{prefix}{key}.")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            refuse_secrets(where, item, f"{prefix}{index}.")


# --------------------------------------------------------------------------- daily returns


def pack_daily(dates: list[str], returns: list[float]) -> tuple[int, bytes, bytes]:
    """Encode a daily-return calendar compactly: int32 day numbers and float64 returns.

    Thousands of trials each carry years of days for PBO/DSR; as JSON that is ~30 bytes a day,
    packed it is 12. Little-endian is fixed so that a file moves between machines.
    """
    if len(dates) != len(returns):
        raise ValueError(f"daily returns: {len(dates)} dates but {len(returns)} returns")
    try:
        days = [(d if isinstance(d, date) else date.fromisoformat(d)).toordinal()
                for d in dates]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"daily returns: dates must be YYYY-MM-DD text ({exc})") from exc
    n = len(days)
    return n, struct.pack(f"<{n}i", *days), struct.pack(f"<{n}d", *map(float, returns))


def unpack_daily(n: int, days: bytes, returns: bytes) -> tuple[list[str], list[float]]:
    dates = [date.fromordinal(d).isoformat() for d in struct.unpack(f"<{n}i", days)]
    return dates, list(struct.unpack(f"<{n}d", returns))


# --------------------------------------------------------------------------- rows


def _stamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One optimiser run; `settings` is the full snapshot `--resume` continues with."""

    id: str
    created_at: datetime
    finished_at: datetime | None
    status: RunStatus
    engine: str
    strategy_title: str
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": _stamp(self.created_at),
            "finished_at": _stamp(self.finished_at),
            "status": self.status,
            "engine": self.engine,
            "strategy_title": self.strategy_title,
            "settings": self.settings,
        }


@dataclass(frozen=True, slots=True)
class ChartRecord:
    """A watchlist trial's result on one chart: its label ("BINANCE:BTCUSDT 60"), the chart
    (symbol, timeframe, bars file, symbol facts), its metrics, its result document (trades,
    no equity curve) and a thinned equity curve ({"times": [...], "equity": [...]})."""

    label: str
    chart: dict[str, Any]
    metrics: dict[str, Any]
    result: dict[str, Any] | None = None
    equity: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "chart": self.chart, "metrics": self.metrics,
                "result": self.result, "equity": self.equity}


@dataclass(frozen=True, slots=True)
class TrialRow:
    """One backtest of one parameter set on one source, as recorded.

    The stored result document is not decoded here (it holds every trade); `has_result` says
    whether `RunStore.trial_result` has one.
    """

    id: int
    run_id: str
    worker: int
    condition: str | None
    iteration: int
    proposer: Proposer
    source_hash: str
    inputs: dict[str, Any]
    params_key: str
    status: TrialStatus
    metrics: dict[str, Any]
    tag: str | None
    reasons: tuple[str, ...]
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    segment: Segment
    has_result: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "worker": self.worker,
            "condition": self.condition,
            "iteration": self.iteration,
            "proposer": self.proposer,
            "source_hash": self.source_hash,
            "inputs": self.inputs,
            "params_key": self.params_key,
            "status": self.status,
            "metrics": self.metrics,
            "tag": self.tag,
            "reasons": list(self.reasons),
            "error": self.error,
            "started_at": _stamp(self.started_at),
            "finished_at": _stamp(self.finished_at),
            "seconds": self.seconds,
            "segment": self.segment,
        }


@dataclass(frozen=True, slots=True)
class SourceRow:
    """A Pine text the run tried, with the source it was rewritten from (LLM lineage)."""

    hash: str
    normalized_hash: str
    pine: str
    parent_hash: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "normalized_hash": self.normalized_hash,
            "parent_hash": self.parent_hash,
            "created_at": _stamp(self.created_at),
            "pine": self.pine,
        }


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened in a run (started, resumed, new best, stopped ...)."""

    id: int
    run_id: str
    at: datetime
    kind: str
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run_id": self.run_id, "at": _stamp(self.at), "kind": self.kind,
                "payload": self.payload}


@dataclass(frozen=True, slots=True)
class LlmExchange:
    """One prompt sent to a model and what came back, kept to audit and to pick models."""

    id: int
    run_id: str
    trial_id: int | None
    worker: int | None
    model: str
    prompt: str
    reply: str | None
    latency: float | None
    outcome: LlmOutcome
    created_at: datetime
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "trial_id": self.trial_id,
            "worker": self.worker,
            "model": self.model,
            "prompt": self.prompt,
            "reply": self.reply,
            "latency": self.latency,
            "outcome": self.outcome,
            "created_at": _stamp(self.created_at),
            "error": self.error,
        }


class ModelStats(NamedTuple):
    """How a model did in a run: `--model auto` prefers models that answer usably and fast."""

    attempts: int
    successes: int
    mean_latency: float | None
