"""What "good enough" means for a run: targets, looser "potential" thresholds, the objective.

Targets are metric constraints (`min_trades`, `max_drawdown`, `min_profit_factor`, or any
`<metric> >= / <= value`). A trial meets the targets when every constraint holds; it is
"potential" (worth a TradingView confirmation) when the looser thresholds hold. The same
constraints become Optuna constraints (a value ≤ 0 means satisfied), so the search is steered
towards feasible inputs rather than only ranked afterwards.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tvdesk.errors import InputError

Op = Literal[">=", "<="]

# Shorthand target names -> (metric key, operator).
SHORTHANDS: dict[str, tuple[str, Op]] = {
    "min_trades": ("total_trades", ">="),
    "max_drawdown": ("max_drawdown_percent", "<="),
    "min_profit_factor": ("profit_factor", ">="),
    "min_net_profit": ("net_profit_percent", ">="),
    "min_percent_profitable": ("percent_profitable", ">="),
    "min_sharpe": ("sharpe_ratio", ">="),
}
SHORTHAND_METRICS = frozenset(metric for metric, _ in SHORTHANDS.values())


@dataclass(frozen=True, slots=True)
class Constraint:
    metric: str
    op: Op
    value: float

    def violation(self, metrics: Mapping[str, object]) -> float:
        """How far from satisfied (0 when satisfied). A missing metric counts as violated.

        A watchlist trial's metrics carry `chart_worst` (each constrained metric's lowest and
        highest value over its charts): a target then has to hold on every chart, so the
        worst chart's value is the one checked.
        """
        raw = metrics.get(self.metric)
        worst = metrics.get("chart_worst")
        if isinstance(worst, Mapping):
            pair = worst.get(self.metric)
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                raw = pair[0] if self.op == ">=" else pair[1]
        if not isinstance(raw, (int, float)):
            return abs(self.value) + 1.0
        actual = float(raw)
        gap = self.value - actual if self.op == ">=" else actual - self.value
        return max(0.0, gap)

    def describe(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True, slots=True)
class Targets:
    constraints: tuple[Constraint, ...] = ()
    potential: tuple[Constraint, ...] = ()
    objective: str = "net_profit_percent"
    maximize: bool = True
    extra_objectives: tuple[tuple[str, bool], ...] = field(default_factory=tuple)

    def failures(self, metrics: Mapping[str, object]) -> list[str]:
        return [c.describe() for c in self.constraints if c.violation(metrics) > 0]

    def met(self, metrics: Mapping[str, object]) -> bool:
        return bool(self.constraints) and not self.failures(metrics)

    def is_potential(self, metrics: Mapping[str, object]) -> bool:
        return bool(self.potential) and all(c.violation(metrics) == 0 for c in self.potential)

    def violations(self, metrics: Mapping[str, object]) -> list[float]:
        return [c.violation(metrics) for c in self.constraints]

    def objective_values(self, metrics: Mapping[str, object]) -> list[float]:
        """Values for Optuna, in the study's directions; a missing metric is the worst value."""
        values = []
        for key, maximize in ((self.objective, self.maximize), *self.extra_objectives):
            raw = metrics.get(key)
            if isinstance(raw, (int, float)):
                values.append(float(raw))
            else:
                values.append(float("-inf") if maximize else float("inf"))
        return values

    def score(self, metrics: Mapping[str, object]) -> float:
        """One number for "best so far" (higher is better): the main objective, signed."""
        value = self.objective_values(metrics)[0]
        return value if self.maximize else -value

    def to_dict(self) -> dict[str, object]:
        return {
            "constraints": [[c.metric, c.op, c.value] for c in self.constraints],
            "potential": [[c.metric, c.op, c.value] for c in self.potential],
            "objective": self.objective, "maximize": self.maximize,
            "extra_objectives": [list(o) for o in self.extra_objectives],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Targets:
        def constraints(rows: Iterable[Sequence[Any]]) -> tuple[Constraint, ...]:
            return tuple(Constraint(m, op, float(v)) for m, op, v in rows)
        return cls(constraints=constraints(data.get("constraints", ())),
                   potential=constraints(data.get("potential", ())),
                   objective=str(data.get("objective", "net_profit_percent")),
                   maximize=bool(data.get("maximize", True)),
                   extra_objectives=tuple((str(k), bool(m))
                                          for k, m in data.get("extra_objectives", ())))


_EXPR = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=)\s*(-?[0-9.]+)\s*$")


@functools.cache
def known_metrics() -> frozenset[str]:
    """Every metric key a backtest's result carries: the catalog's keys with their
    `_long`/`_short`/`_percent` variants, tvdesk's risk statistics, and the buy & hold
    drawdown the local engine adds."""
    from tvdesk.analytics.risk_metrics import RISK_METRIC_DEFINITIONS
    from tvdesk.metric_catalog import METRICS, variant_key

    keys = {"buy_hold_max_drawdown_percent", *RISK_METRIC_DEFINITIONS}
    for metric in METRICS:
        for scope in ("all", "long", "short") if metric.by_side else ("all",):
            for percent in (False, True) if metric.has_percent else (False,):
                keys.add(variant_key(metric.key, scope, percent))
    return frozenset(keys)


def check_metric(name: str, source: str = "--target") -> str:
    """`name` if a backtest reports a metric of that key; otherwise an InputError naming it and
    the closest known keys (a constraint on a metric no result has can never hold, so every
    trial would fail it)."""
    known = known_metrics()
    if name in known:
        return name
    close = difflib.get_close_matches(name, sorted(known), n=4, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else \
        f"known metrics include {', '.join(sorted(SHORTHAND_METRICS))}"
    raise InputError(f"unknown metric {name!r}; {hint}", source=source, key=name)


def parse_constraint(text: str, source: str = "--target") -> Constraint:
    """`"profit_factor>=1.3"` -> Constraint; the shorthand names are accepted as `name=value`.
    The metric must be one a backtest reports (`check_metric`)."""
    match = _EXPR.match(text)
    if match:
        return Constraint(check_metric(match.group(1), source), match.group(2),  # type: ignore[arg-type]
                          float(match.group(3)))
    key, sep, value = text.partition("=")
    if sep and key.strip() in SHORTHANDS:
        try:
            return constraint_from_shorthand(key.strip(), float(value))
        except ValueError:
            pass
    raise InputError(f"expected 'metric>=number', 'metric<=number' or one of "
                     f"{', '.join(SHORTHANDS)} as name=number, got {text!r}", source=source)


def constraint_from_shorthand(name: str, value: float) -> Constraint:
    metric, op = SHORTHANDS[name]
    return Constraint(metric, op, float(value))


def targets_from_mapping(values: Mapping[str, float], source: str) -> tuple[Constraint, ...]:
    """Config-file targets: shorthand names, or `<metric>_min` / `<metric>_max` keys."""
    out = []
    for key, value in values.items():
        if key in SHORTHANDS:
            out.append(constraint_from_shorthand(key, value))
        elif key.endswith("_min"):
            out.append(Constraint(check_metric(key[:-4], source), ">=", float(value)))
        elif key.endswith("_max"):
            out.append(Constraint(check_metric(key[:-4], source), "<=", float(value)))
        else:
            raise InputError(f"unknown target {key!r}: use {', '.join(SHORTHANDS)} or "
                             "<metric>_min / <metric>_max", source=source)
    return tuple(out)
