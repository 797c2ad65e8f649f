"""Numbers as TradingView's UI languages write them: decimal commas, grouped thousands, minus signs.

An XLSX export stores numbers as numbers; text only reaches this module from CSV files, from
spreadsheets re-saved by a user's office suite, and from metric cells TradingView writes as text.
The forms seen across locales: `1234.5`, `1,234.5` (en), `1.234,5` (de, es, it, pt, tr, id, vi),
`1 234,5` with a space, no-break space or narrow no-break space (fr, ru, pl, cs, uk),
`1'234.5` (de-CH), a Unicode minus `−12.5` (TradingView's own UI), `12.5 %` and `12,5%`.

One cell can be ambiguous: `1,234` is 1234 in English and 1.234 in German. `decimal_mark`
decides it from the whole column (a column that anywhere writes `0,5` or `1.234,5` uses the
comma); a lone ambiguous cell with no evidence reads the English way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_GROUPING = str.maketrans("", "", " \u00a0\u202f\u2009\u2007'\u2019_")
_MINUSES = str.maketrans({"\u2212": "-", "\u2012": "-", "\u2013": "-", "\ufe63": "-",
                          "\uff0d": "-"})
_WRAPPING = re.compile(r"^[+]?([-]?)\s*[$€£¥₩₽₺₹₫฿₪]?\s*(.*?)\s*(?:%|[A-Z]{3,5}|[$€£¥₩₽₺₹₫฿₪])?$")
_PLAIN = re.compile(r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")
_COMMA_GROUPS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_DOT_GROUPS = re.compile(r"^-?\d{1,3}(?:\.\d{3})+(?:,\d+)?$")
_COMMA_DECIMAL = re.compile(r"^-?\d+,\d+$")


def decimal_mark(texts: Iterable[str]) -> str | None:
    """"," or "." when some cell of a column proves which one is the decimal mark, else None."""
    for raw in texts:
        text = _core(raw)
        if text is None:
            continue
        if "," in text and "." in text:
            return "," if text.rfind(",") > text.rfind(".") else "."
        if text.count(",") == 1 and _COMMA_DECIMAL.match(text) and \
                len(text.rpartition(",")[2]) != 3:
            return ","
        if text.count(".") == 1 and len(text.rpartition(".")[2]) != 3:
            return "."
        if text.count(",") > 1:
            return "."
        if text.count(".") > 1:
            return ","
    return None


def parse_number(raw: str, decimal: str | None = None) -> float | None:
    """The number a cell's text writes, or None when it is not a number at all.

    `decimal` is the column's decimal mark from `decimal_mark` (None: decide per cell).
    """
    text = _core(raw)
    if text is None:
        return None
    if _PLAIN.match(text) and not (decimal == "," and _DOT_GROUPS.match(text)):
        return float(text)
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
    elif decimal is None:
        if _COMMA_GROUPS.match(text):
            decimal = "."
        elif _DOT_GROUPS.match(text) and text.count(".") > 1:
            decimal = ","
        else:
            decimal = "," if "," in text else "."
    if decimal == ",":
        if "." in text and not _DOT_GROUPS.match(text):
            return None
        text = text.replace(".", "").replace(",", ".")
    else:
        if "," in text and not _COMMA_GROUPS.match(text):
            return None
        text = text.replace(",", "")
    return float(text) if _PLAIN.match(text) else None


def _core(raw: str) -> str | None:
    """The sign and digits of a cell: grouping spaces, currency and percent signs removed."""
    text = str(raw).strip().translate(_MINUSES)
    if not text:
        return None
    match = _WRAPPING.match(text)
    if match is None:
        return None
    body = match.group(2).translate(_GROUPING)
    if not body or (not body[0].isdigit() and not (body[0] in ".," and body[1:2].isdigit())):
        return None
    if body[0] in ".,":
        body = "0" + body
    return match.group(1) + body
