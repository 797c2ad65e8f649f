"""Input values as a person reads them: `1.2`, not `1.2000000000000002`. No Qt.

A float input searched on a step (0.1, 0.25) is computed as `low + i * step`, so its value
carries binary noise. Every view that shows inputs (the Runs panels and log, the Surface) goes
through `format_input`, so the same value reads the same everywhere: rounded to the decimals
of the input's step when the step is known, else to 10 significant digits, trailing zeros
dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

SIGNIFICANT = 10
"""Digits kept when an input's step is unknown: far more than any input needs, far fewer
than the 17 that show a float's noise."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def step_decimals(step: float | None) -> int | None:
    """Decimals a value on this step needs (0.25 -> 2, 0.1 -> 1, 5 -> 0); None when the step
    says nothing (missing, zero, not finite)."""
    if step is None or not _is_number(step) or not math.isfinite(step) or step <= 0:
        return None
    text = format(Decimal(repr(float(step))).normalize(), "f")
    return len(text.split(".")[1]) if "." in text else 0


def format_number(value: float, step: float | None = None) -> str:
    """A number without float noise: to the step's decimals when it lies on them, else to
    10 significant digits."""
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    decimals = step_decimals(step)
    # The step's decimals only when the value sits on them: a range starting at 0.55 with
    # step 0.1 holds 0.65, which one decimal would misstate.
    if decimals is not None and step is not None \
            and abs(value - round(value, decimals)) <= abs(step) * 1e-6:
        text = f"{value:.{decimals}f}"
    else:
        text = f"{value:.{SIGNIFICANT}g}"
    if "e" not in text and "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_input(value: Any, step: float | None = None) -> str:
    """One input value: numbers without noise, bools On/Off (as the report), text as is."""
    if isinstance(value, bool):
        return "On" if value else "Off"
    if _is_number(value):
        return format_number(value, step)
    return "" if value is None else str(value)


def format_inputs(inputs: Any, steps: Mapping[str, float] | None = None) -> str:
    """`Length=28, Band Multiplier=1.2` (empty for anything that is not a mapping)."""
    if not isinstance(inputs, Mapping):
        return ""
    steps = steps or {}
    return ", ".join(f"{name}={format_input(value, steps.get(str(name)))}"
                     for name, value in inputs.items())


def input_steps(settings: Mapping[str, Any]) -> dict[str, float]:
    """Each input's search step from a run's settings snapshot: the script's declared
    `step`, overridden by the run's `search_ranges`; inputs without a step are left out."""
    steps: dict[str, float] = {}
    request = settings.get("request")
    strategy = request.get("strategy") if isinstance(request, Mapping) else None
    declared = strategy.get("inputs") if isinstance(strategy, Mapping) else None
    for spec in declared if isinstance(declared, list) else ():
        if isinstance(spec, Mapping) and step_decimals(spec.get("step")) is not None:
            steps[str(spec.get("title") or spec.get("name"))] = float(spec["step"])
    ranges = settings.get("search_ranges")
    for title, override in (ranges.items() if isinstance(ranges, Mapping) else ()):
        if isinstance(override, Mapping) and step_decimals(override.get("step")) is not None:
            steps[str(title)] = float(override["step"])
    return steps


__all__ = ["format_input", "format_inputs", "format_number", "input_steps", "step_decimals"]
