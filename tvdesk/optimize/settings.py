"""Everything an optimisation run needs, as one JSON-serialisable value.

The run store keeps this snapshot with the run, so `tvdesk optimize --resume RUN` continues
with exactly the settings the run started with, whatever the flags say the second time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal

from tvdesk.data.charts import Chart
from tvdesk.model import BacktestRequest
from tvdesk.optimize.targets import Targets

if TYPE_CHECKING:
    from tvdesk.store import RunStore

Proposer = Literal["params", "llm", "both"]


@dataclass(frozen=True, slots=True)
class LLMSettings:
    base_url: str = "https://api.openai.com/v1"
    models: tuple[str, ...] = ("gpt-4o-mini",)
    model: str = "auto"  # "auto" or one of `models`
    temperature: float = 0.7
    timeout: float = 120.0
    max_retries: int = 3
    study_trials: int = 8  # with proposer "both": parameter trials per new structure


@dataclass(frozen=True, slots=True)
class OptimizeSettings:
    request: BacktestRequest
    engine: str = "local"
    conditions: tuple[str, ...] = ()  # empty: one track, the script's own condition
    condition_input: str = "Condition"
    proposer: Proposer = "params"
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    seed: int = 42
    process_count: int = 1
    max_iterations: int = 100
    max_consecutive_errors: int = 10
    max_duplicate_consecutive_errors: int = 5
    time_budget: float | None = None  # seconds
    max_llm_calls: int | None = None  # None: llm_call_budget's default
    holdout: float = 0.2  # fraction of the bars kept out of the search
    targets: Targets = field(default_factory=Targets)
    search_ranges: dict[str, dict[str, Any]] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)  # QualityRules overrides
    exclude_inputs: tuple[str, ...] = ()
    workspace: str | None = None
    base_template: str | None = None
    llm: LLMSettings = field(default_factory=LLMSettings)
    # Targets filter (a trial missing them is never the best while one meets them) and steer
    # the search; with stop_on_target a track also stops at the first trial meeting them.
    stop_on_target: bool = False
    git_repository: str | None = None  # commit each new best there (tvdesk.optimize.git_best)
    git_push: bool = False  # and push after each commit
    # A watchlist (tvdesk.optimize.watchlist_trials): every trial runs on each chart and is
    # scored by the `aggregate` of their objectives, its targets held on every chart; with
    # `search_timeframe` the timeframe is a searched parameter (one timeframe per trial).
    charts: tuple[Chart, ...] = ()
    aggregate: Literal["median", "min", "mean"] = "median"
    search_timeframe: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["request"] = self.request.to_dict()
        data["targets"] = self.targets.to_dict()
        data["llm"] = asdict(self.llm)
        data["conditions"] = list(self.conditions)
        data["exclude_inputs"] = list(self.exclude_inputs)
        data["charts"] = [chart.to_dict() for chart in self.charts]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizeSettings:
        values = dict(data)
        values["request"] = BacktestRequest.from_dict(values["request"])
        values["targets"] = Targets.from_dict(values.get("targets") or {})
        llm = dict(values.get("llm") or {})
        llm["models"] = tuple(llm.get("models") or LLMSettings().models)
        values["llm"] = LLMSettings(**llm)
        values["conditions"] = tuple(values.get("conditions") or ())
        values["exclude_inputs"] = tuple(values.get("exclude_inputs") or ())
        values["charts"] = tuple(Chart.from_dict(c) for c in values.get("charts") or ())
        # Runs stored before the setting existed stopped a track when its targets were met: a
        # resumed one keeps doing so.
        values.setdefault("stop_on_target", True)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def stored_settings(store: RunStore, run_id: str) -> OptimizeSettings:
    """The settings a stored run was started with: what `--resume`, reports, re-runs on
    TradingView and the GUI all read (the one place they are decoded).

    InputError naming the store when the run's snapshot cannot be read as settings (a run
    recorded by other means, or by a tvdesk whose settings this one cannot read).
    """
    from tvdesk.errors import InputError

    snapshot = store.get_run(run_id).settings
    try:
        return OptimizeSettings.from_dict(snapshot)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"run {run_id} has no settings this tvdesk can read "
                         f"({type(exc).__name__}: {exc})", source=str(store.path)) from None


LLM_CALLS_PER_ITERATION = 3


def llm_call_budget(settings: OptimizeSettings) -> int:
    """The most LLM requests a run may send, retries included: `max_llm_calls`, or by default
    3 per trial the run may make (`max_iterations` per condition track).

    A model that keeps answering with scripts already tried produces no trials; without a
    budget such a run would keep calling (and billing) until killed.
    """
    if settings.max_llm_calls is not None:
        return settings.max_llm_calls
    tracks = max(1, len(settings.conditions))
    return LLM_CALLS_PER_ITERATION * settings.max_iterations * tracks


def parse_conditions(text: str, source: str = "--conditions") -> tuple[str, ...]:
    """`"1,3,5"`, `"1-10"`, `"1-3,7"` -> ("1", "3", "5") ... in the order given, no repeats."""
    from tvdesk.errors import InputError

    out: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, sep, high = part.partition("-")
        try:
            if sep:
                a, b = int(low), int(high)
                if b < a:
                    raise ValueError
                values = [str(v) for v in range(a, b + 1)]
            else:
                values = [str(int(part))]
        except ValueError:
            raise InputError(f"expected a condition list such as '1,3,5', '1-10' or '1-3,7', "
                             f"got {text!r}", source=source) from None
        out.extend(v for v in values if v not in out)
    if not out:
        raise InputError(f"no conditions in {text!r}", source=source)
    return tuple(out)
