"""The search space of a strategy: which inputs to vary, and over what values.

Ranges come from the script's own declarations (`input.int(..., minval, maxval, step)`,
`options=[...]`, bools), because that is where the strategy's author said what is sensible.
A user can override any input's range, or leave an input out, by title. An input with no
declared bounds gets a range around its default (half to double), and says so, so nothing is
searched over a range nobody chose without a trace. The condition input is never searched: each
condition value is its own track.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tvdesk.errors import InputError
from tvdesk.model import InputSpec, InputValue, Strategy

MAX_FLOAT_STEPS = 200  # an undeclared float step divides its range into this many steps


@dataclass(frozen=True, slots=True)
class Dimension:
    """One searched input: numeric range with a step, or a list of choices."""

    title: str
    kind: str  # "int" | "float" | "choice"
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[InputValue, ...] = ()
    derived: bool = False  # the range was not declared by the script nor given by the user

    def contains(self, value: InputValue) -> bool:
        if self.kind == "choice":
            return value in self.choices
        assert self.low is not None and self.high is not None
        return isinstance(value, (int, float)) and self.low <= float(value) <= self.high

    def grid(self) -> list[InputValue]:
        """Every value of this dimension (grid search); floats on their step."""
        if self.kind == "choice":
            return list(self.choices)
        assert self.low is not None and self.high is not None and self.step
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        values = [self.low + i * self.step for i in range(count)]
        return [round(v) for v in values] if self.kind == "int" else \
            [round(v, 10) for v in values]

    def describe(self) -> str:
        if self.kind == "choice":
            return f"{self.title}: one of {', '.join(map(str, self.choices))}"
        note = " (derived from the default)" if self.derived else ""
        return f"{self.title}: {self.low:g} … {self.high:g} step {self.step:g}{note}"


@dataclass(frozen=True, slots=True)
class SearchSpace:
    dimensions: tuple[Dimension, ...]

    def __bool__(self) -> bool:
        return bool(self.dimensions)

    def titles(self) -> list[str]:
        return [d.title for d in self.dimensions]

    def size(self) -> int | None:
        """Number of distinct points, or None when it is larger than 10**9."""
        total = 1
        for dim in self.dimensions:
            total *= len(dim.grid())
            if total > 10**9:
                return None
        return total


def _numeric_dimension(spec: InputSpec, override: Mapping[str, Any]) -> Dimension:
    default = spec.default if isinstance(spec.default, (int, float)) else 0
    low = override.get("min", spec.minval)
    high = override.get("max", spec.maxval)
    derived = False
    if low is None or high is None:
        derived = True
        magnitude = abs(float(default)) or 1.0
        low = low if low is not None else float(default) - magnitude / 2
        high = high if high is not None else float(default) + magnitude
        if spec.minval is not None:
            low = max(low, spec.minval)
    if spec.kind == "int":
        step = float(override.get("step", spec.step or 1))
        step = max(1.0, round(step))
        low, high = math.ceil(low), math.floor(high)
    else:
        step = override.get("step", spec.step)
        if not step:
            step = (float(high) - float(low)) / MAX_FLOAT_STEPS
    if high < low:
        raise InputError(f"search range of input {spec.title!r} is empty ({low} > {high})",
                         source="search ranges")
    return Dimension(title=spec.title, kind="int" if spec.kind == "int" else "float",
                     low=float(low), high=float(high), step=float(step), derived=derived)


def build_space(strategy: Strategy, *, overrides: Mapping[str, Mapping[str, Any]] | None = None,
                exclude: tuple[str, ...] = (), condition_input: str | None = "Condition",
                ) -> SearchSpace:
    """The searchable inputs of a strategy, after per-input overrides and exclusions.

    `overrides` maps an input title to {"min", "max", "step", "choices", "exclude"}. Unknown
    titles are an error listing the inputs, as everywhere else.
    """
    overrides = dict(overrides or {})
    for key in list(overrides) + list(exclude):
        if strategy.input_by_key(key) is None:
            titles = ", ".join(repr(s.title) for s in strategy.inputs)
            raise InputError(f"unknown input {key!r} in the search ranges; inputs: {titles}",
                             source="search ranges")
    excluded = {strategy.input_by_key(key).title for key in exclude}  # type: ignore[union-attr]
    dims: list[Dimension] = []
    for spec in strategy.inputs:
        if not spec.overridable or spec.title in excluded:
            continue
        if condition_input and spec.title.casefold() == condition_input.casefold():
            continue
        override = overrides.get(spec.title) or overrides.get(spec.name) or {}
        if override.get("exclude"):
            continue
        if override.get("choices"):
            dims.append(Dimension(spec.title, "choice", choices=tuple(override["choices"])))
        elif spec.options:
            dims.append(Dimension(spec.title, "choice", choices=tuple(spec.options)))
        elif spec.kind == "bool":
            dims.append(Dimension(spec.title, "choice", choices=(False, True)))
        elif spec.kind in ("int", "float"):
            dims.append(_numeric_dimension(spec, override))
        # strings without options, sources, colours, sessions...: not searched by default
    return SearchSpace(tuple(dims))
