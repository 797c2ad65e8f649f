"""The axes of a parameter grid: which inputs can span one, and how its values become cells.

A run's trials are drawn over two of their inputs both by the GUI's Surface view
(`tvdesk.viewmodels.surface`) and by the report's parameter heatmap (`tvdesk.reports.charts`). Both
must pick the same default pair of inputs and cut an axis into the same cells, so that choice
is made once, here, below both of them (reports must not import the application layer):

- `numeric_inputs`: the inputs whose values are all finite numbers, most distinct first;
- `axis_bins`: one cell per distinct value up to `MAX_CATEGORIES`, else `BINS` equal-width
  bins labelled "low–high" (whole-number bins for integer inputs).

Pure data: no Qt, no matplotlib, no store.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

MAX_CATEGORIES = 20
"""An axis with at most this many distinct values has one cell per value; more are binned."""
BINS = 12
"""Cells of a binned numeric axis (equal width between the lowest and highest value)."""


def is_number(value: Any) -> bool:
    """A real number: int or float (numpy's included), never a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def numeric_inputs(inputs: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Inputs whose values are all finite numbers (not booleans), with their distinct-value
    count, most distinct first (ties: first seen). The first two with at least two values are
    the default pair of a parameter heatmap (report and GUI)."""
    names: dict[str, set[float]] = {}
    refused: set[str] = set()
    for row in inputs:
        for name, value in row.items():
            if is_number(value) and math.isfinite(float(value)):
                names.setdefault(name, set()).add(float(value))
            else:
                refused.add(name)
    found = [(name, len(values)) for name, values in names.items() if name not in refused]
    order = {name: i for i, (name, _n) in enumerate(found)}
    return sorted(found, key=lambda item: (-item[1], order[item[0]]))


def axis_bins(values: Sequence[float], *, max_categories: int = MAX_CATEGORIES,
              bins: int = BINS) -> tuple[Callable[[float], int], list[str]]:
    """Cell index of a value and the cells' labels: one cell per distinct value up to
    `max_categories`, else `bins` equal-width bins labelled "low–high" (integer_bins when
    every value is a whole number)."""
    distinct = sorted(set(values))
    if len(distinct) <= max_categories:
        index = {v: i for i, v in enumerate(distinct)}
        return (lambda v: index[v]), [f"{v:g}" for v in distinct]
    if all(float(v).is_integer() for v in distinct):
        return integer_bins(distinct, bins=bins)
    low, high = distinct[0], distinct[-1]
    width = (high - low) / bins

    def position(v: float) -> int:
        return min(int((v - low) / width), bins - 1)

    labels = [f"{low + i * width:.3g}–{low + (i + 1) * width:.3g}" for i in range(bins)]
    return position, labels


def integer_bins(values: Sequence[float], *, bins: int = BINS
                 ) -> tuple[Callable[[float], int], list[str]]:
    """Whole-number bins for an integer input with many values ("5–20", never "5–29.6"):
    each bin holds the same count of integers (the last may hold fewer); one value: "5"."""
    low, high = int(min(values)), int(max(values))
    width = max(1, math.ceil((high - low + 1) / bins))
    count = math.ceil((high - low + 1) / width)

    def position(v: float) -> int:
        return min(int((v - low) // width), count - 1)

    labels = []
    for i in range(count):
        first, last = low + i * width, min(high, low + (i + 1) * width - 1)
        labels.append(str(first) if first == last else f"{first}–{last}")
    return position, labels


__all__ = ["BINS", "MAX_CATEGORIES", "axis_bins", "integer_bins", "is_number",
           "numeric_inputs"]
