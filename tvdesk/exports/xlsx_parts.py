"""A small XLSX worksheet reader: sheet names and rows of cell values.

Why not openpyxl? Measured on the List of trades of a 10,000-trade export (20,000 rows × 17
columns, 2-core machine): openpyxl's read-only mode needs about 1.3 s to iterate it, which alone
breaks the "well under 1 s" import budget. Here a sheet is read in one of two ways:
- the regular shape every known writer (SheetJS, openpyxl, Excel) uses is read by one C-level
  regular-expression pass (about 0.25 s for that sheet), verified by counting the cells;
- anything else (rich text, formulas, namespace prefixes, pretty-printed XML) goes through
  expat with one small callback per tag (about 0.5 s).
Both understand shared and inline strings, numbers, booleans, error and ISO-date cells, sparse
rows and the 1904 date system. Styles are ignored: a date cell stays its serial number, which
is exactly what the export readers convert.
"""

from __future__ import annotations

import operator
import posixpath
import re
import zipfile
import zlib
from html import unescape
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.parsers import expat

from tvdesk.errors import InputError

ZIP_MAGIC = b"PK\x03\x04"
CFB_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*:))?worksheet\b")

Row = list[Any]


class _Corrupt(Exception):
    """A part that parses as XML but cannot be what it claims (a missing shared string)."""


_BROKEN = (_Corrupt, zipfile.BadZipFile, zlib.error, EOFError, KeyError, expat.ExpatError,
           ElementTree.ParseError, UnicodeDecodeError, OSError)


def _local(tag: str) -> str:
    """Tag name without namespace: '{ns}sheet', 'x:sheet' and 'sheet' are all 'sheet'."""
    return tag.rpartition("}")[2].rpartition(":")[2]


def _attr(attrs: dict[str, str], name: str) -> str | None:
    for key, value in attrs.items():
        if _local(key) == name:
            return value
    return None


def _column_index(ref: str) -> int:
    """'A1' -> 0, 'AB12' -> 27."""
    index = 0
    for ch in ref:
        if "A" <= ch <= "Z":
            index = index * 26 + ord(ch) - 64
        else:
            break
    return index - 1


class XlsxBook:
    """An open XLSX file. Use as a context manager; every failure is an InputError."""

    def __init__(self, path: str | Path) -> None:
        self.source = str(path)
        try:
            self._zip = zipfile.ZipFile(path)
        except _BROKEN as exc:
            raise InputError(f"not a readable XLSX file: the zip archive is truncated or "
                             f"corrupt ({exc})", source=self.source) from None
        try:
            self._sheets, self.date1904, strings_part = self._read_workbook()
            self._strings = self._read_shared_strings(strings_part)
        except InputError:
            self._zip.close()
            raise
        except _BROKEN as exc:
            self._zip.close()
            raise self._broken(exc) from None

    def __enter__(self) -> XlsxBook:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    @property
    def sheet_names(self) -> list[str]:
        return list(self._sheets)

    def _broken(self, exc: BaseException) -> InputError:
        return InputError(f"corrupt XLSX file: {type(exc).__name__}: {exc}; download the "
                          f"export again", source=self.source)

    def _read_workbook(self) -> tuple[dict[str, str], bool, str | None]:
        names = set(self._zip.namelist())
        book_part = self._office_document(names)
        if book_part not in names:
            raise InputError("not an XLSX workbook: the zip archive has no "
                             "xl/workbook.xml (is it another Office document?)",
                             source=self.source)
        rels = self._relationships(book_part)
        root = ElementTree.fromstring(self._zip.read(book_part))
        sheets: dict[str, str] = {}
        date1904 = False
        for element in root.iter():
            tag = _local(element.tag)
            if tag == "workbookPr":
                date1904 = (_attr(element.attrib, "date1904") or "").lower() in ("1", "true")
            elif tag == "sheet":
                name = _attr(element.attrib, "name") or ""
                target = rels.get(_attr(element.attrib, "id") or "", (None, ""))[0]
                if target:
                    sheets[name] = target
        strings = next((t for t, kind in rels.values() if kind == "sharedStrings"), None)
        if strings is None and "xl/sharedStrings.xml" in names:
            strings = "xl/sharedStrings.xml"
        return sheets, date1904, strings

    def _office_document(self, names: set[str]) -> str:
        if "_rels/.rels" in names:
            root = ElementTree.fromstring(self._zip.read("_rels/.rels"))
            for rel in root.iter():
                if (rel.get("Type") or "").endswith("/officeDocument"):
                    return (rel.get("Target") or "").lstrip("/")
        return "xl/workbook.xml"

    def _relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (zip path of the target, relationship kind)."""
        folder, name = posixpath.split(part)
        rels_part = posixpath.join(folder, "_rels", name + ".rels")
        if rels_part not in self._zip.namelist():
            return {}
        found: dict[str, tuple[str, str]] = {}
        for rel in ElementTree.fromstring(self._zip.read(rels_part)).iter():
            target = rel.get("Target")
            if not target or rel.get("Id") is None:
                continue
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join(folder, target))
            found[rel.get("Id", "")] = (path, (rel.get("Type") or "").rpartition("/")[2])
        return found

    def _read_shared_strings(self, part: str | None) -> list[str]:
        if part is None or part not in self._zip.namelist():
            return []
        strings: list[str] = []
        with self._zip.open(part) as stream:
            for _event, element in ElementTree.iterparse(stream):
                if _local(element.tag) == "si":
                    strings.append("".join(
                        t.text or "" for t in element.iter()
                        if _local(t.tag) == "t" and not _in_phonetic(element, t)))
                    element.clear()
        return strings

    def rows(self, sheet: str) -> list[tuple[int, Row]]:
        """(1-based row number, cell values) for each row that has a cell, in file order."""
        try:
            data = self._zip.read(self._sheets[sheet])
            return _regular_rows(data, self._strings) or _expat_rows(data, self._strings)
        except _BROKEN as exc:
            raise self._broken(exc) from None


# The fast path: SheetJS, openpyxl and Excel write every cell as `<c r="B2" [s=".."] [t=".."]>`
# holding `<v>..</v>` or `<is><t>..</t></is>`. One C-level findall reads all of them at once,
# on the raw UTF-8 bytes (no 13 MB text to build, and a sheet with Cyrillic or CJK words costs
# no more than an English one); if any cell does not fit that shape (rich text, formulas,
# prefixes), the count of matches falls short of the count of `<c` tags and the sheet goes
# through expat instead.
_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})(\d+)"([^>/]*)'
    rb'(?:/>|>(?:<v>([^<]*)</v>|<is><t(?: xml:space="preserve")?>([^<]*)</t></is>)?</c>)')
# The same for a sheet with no empty cell (no `<c .../>`, no `<c ...></c>`), which is what
# SheetJS writes: a sixth faster, because nothing is optional.
_FULL_CELL = re.compile(
    rb'<c r="([A-Z]{1,3})(\d+)"([^>]*)><(?:v>([^<]*)</v|is><t[^>]*>([^<]*)</t></is)></c>')
_KIND = re.compile(rb'\bt="(\w+)"')
_BARE_CELL = re.compile(rb"<c[>/]")

Match = tuple[bytes, bytes, bytes, bytes, bytes]  # letters, row, attributes, value, inline


def _regular_rows(data: bytes, strings: list[str]) -> list[tuple[int, Row]] | None:
    root = _ROOT.search(data)
    start = data.find(b"<sheetData")
    if root is None or root.group(1) or b":c r=" in data[start:start + 4096]:
        return None  # namespace prefixes (on every cell if on one): expat reads them
    # Every cell tag must have matched (tags cannot hide in text, where "<" is escaped), and
    # a cell without attributes is left to expat. The strict pattern fits what SheetJS
    # writes; a sheet with empty cells needs the general one.
    if _BARE_CELL.search(data):
        return None
    tags = data.count(b"<c ")
    cells: list[Match] = _FULL_CELL.findall(data)
    if len(cells) != tags:
        cells = _CELL.findall(data)
        if len(cells) != tags:
            return None
    dense = _dense_rows(cells, strings)
    if dense is not None:
        return dense
    kinds: dict[bytes, str] = {}  # a sheet has a handful of distinct attribute strings
    rows: list[tuple[int, Row]] = []
    columns: dict[bytes, int] = {}
    row: Row = []
    current = b""
    for letters, number, attrs, raw_value, raw_inline in cells:
        if number != current:
            row = []
            rows.append((int(number), row))
            current = number
        kind = kinds.get(attrs)
        if kind is None:
            kind = kinds[attrs] = _kind_of(attrs)
        col = columns.get(letters)
        if col is None:
            col = columns[letters] = _column_index(letters.decode())
        if kind == "n" or (not kind and not raw_inline):
            try:
                cell: Any = float(raw_value) if raw_value else None
            except ValueError:
                cell = raw_value.decode()  # the caller reports "expected a number" and where
        elif kind == "inlineStr":
            cell = _text(raw_inline) or None
        elif raw_value or kind == "str":
            cell = _cell_value(kind, [_text(raw_value)], strings)
        else:
            cell = None
        if col == len(row):
            row.append(cell)
        elif col > len(row):
            row.extend([None] * (col - len(row)))
            row.append(cell)
        else:
            row[col] = cell
    return rows


def _kind_of(attrs: bytes) -> str:
    found = _KIND.search(attrs)
    return found.group(1).decode() if found else ""


def _text(raw: bytes) -> str:
    text = raw.decode("utf-8")
    return unescape(text) if "&" in text else text


_LETTERS, _NUMBER, _ATTRS = (operator.itemgetter(i) for i in range(3))


def _dense_rows(cells: list[Match], strings: list[str]) -> list[tuple[int, Row]] | None:
    """The common shape, converted in bulk: every row holds the same columns A, B, C, ... and
    every cell is a number, an inline string or a shared string. None for anything else."""
    if not cells:
        return None
    kinds = {attrs: _kind_of(attrs) for attrs in set(map(_ATTRS, cells))}
    shared = {a for a, k in kinds.items() if k == "s"}
    if any(k not in ("n", "", "inlineStr", "s") for k in kinds.values()):
        return None
    first = cells[0][1]
    width = next((i for i, cell in enumerate(cells) if cell[1] != first), len(cells))
    if len(cells) % width:
        return None
    letters = list(map(_LETTERS, cells[:width]))
    if letters != [column_letters(i).encode() for i in range(width)] or \
            list(map(_LETTERS, cells)) != letters * (len(cells) // width):
        return None
    try:
        if shared:
            values = [strings[int(v)] if a in shared else float(v) if v
                      else (_text(i) or None) for _l, _n, a, v, i in cells]
        else:  # a <v> is a number here, an <is> a string (SheetJS's and openpyxl's way)
            values = [float(v) if v else (_text(i) or None) for _l, _n, _a, v, i in cells]
    except (ValueError, IndexError, UnicodeDecodeError):
        return None  # a bad number or string index: the careful loop says where
    numbers = list(map(_NUMBER, cells[::width]))
    if len(set(numbers)) != len(numbers):
        return None
    return [(int(number), values[at:at + width])
            for number, at in zip(numbers, range(0, len(values), width), strict=True)]


def column_letters(index: int) -> str:
    """0 -> 'A', 27 -> 'AB': the letters of a column index (the inverse of _column_index)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # the caller reports it as "expected a number" with its location


def _expat_rows(data: bytes, strings: list[str]) -> list[tuple[int, Row]]:
    """Any well-formed sheet: expat with one small callback per tag."""
    match = _ROOT.search(data)
    prefix = match.group(1).decode() if match and match.group(1) else ""
    cell_tag, value_tag, text_tag, row_tag, phonetic_tag = (
        prefix + name for name in ("c", "v", "t", "row", "rPh"))
    done: list[tuple[int, Row]] = []
    row: Row = []
    row_number = 0
    col = 0
    kind = "n"
    text: list[str] | None = None
    capture = False
    phonetic = False

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal row, row_number, col, kind, text, capture, phonetic
        if name == cell_tag:
            ref = attrs.get("r")
            col = _column_index(ref) if ref else len(row)
            kind = attrs.get("t", "n")
            text = None
        elif name == value_tag or (name == text_tag and not phonetic):
            if text is None:
                text = []
            capture = True
        elif name == row_tag:
            number = attrs.get("r")
            row_number = int(number) if number else row_number + 1
            row = []
            done.append((row_number, row))
        elif name == phonetic_tag:
            phonetic = True

    def end(name: str) -> None:
        nonlocal capture, phonetic
        if name == cell_tag:
            value = None if text is None else _cell_value(kind, text, strings)
            if col == len(row):
                row.append(value)
            elif col > len(row):
                row.extend([None] * (col - len(row)))
                row.append(value)
            else:
                row[col] = value
        elif name in (value_tag, text_tag):
            capture = False
        elif name == phonetic_tag:
            phonetic = False

    def chars(data: str) -> None:
        if capture:
            text.append(data)  # type: ignore[union-attr]  # set together with capture

    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.Parse(data, True)
    return [(number, cells) for number, cells in done if cells]


def _in_phonetic(si: ElementTree.Element, t: ElementTree.Element) -> bool:
    return any(_local(ph.tag) == "rPh" and t in list(ph.iter()) for ph in si)


def _cell_value(kind: str, text: list[str], strings: list[str]) -> Any:
    value = text[0] if len(text) == 1 else "".join(text)
    if kind == "n":
        return _number(value) if value else None
    if kind == "s":
        try:
            return strings[int(value)]
        except (ValueError, IndexError):
            raise _Corrupt(f"shared string {value!r} does not exist") from None
    if kind == "b":
        return value.strip() in ("1", "true")
    # inlineStr, str (formula text), e (error such as #N/A), d (ISO date); "" is an empty cell
    return value or None
