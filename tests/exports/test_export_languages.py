"""TradingView exports in every UI language, in every locale's number and date forms, and with
every name replaced by words nobody knows: read by structure, or refused naming sheet and column.
"""

from __future__ import annotations

import contextlib
import csv
import io
import random
import string
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tvdesk.errors import InputError
from tvdesk.exports import aliases, read_export
from tvdesk.exports.dates import find_datetimes
from tvdesk.exports.locales import locales
from tvdesk.exports.numbers import decimal_mark, parse_number

from export_fixtures import (
    INPUTS,
    SYMBOL,
    assert_metrics,
    assert_trades,
    make_trades,
    report_stats,
    write_csv,
    write_xlsx,
)
from export_layouts import locale_layout

CODES = [locale.code for locale in locales()]
REQUIRED_LANGUAGES = {"en", "de", "es", "fr", "it", "pt", "ru", "tr", "pl", "ja", "ko", "zh_CN",
                      "zh_TW", "id", "th", "vi", "ar", "he"}


def _locale(code: str) -> Any:
    return next(locale for locale in locales() if locale.code == code)


# --------------------------------------------------------------------------- the label data


def test_every_language_the_ui_offers_has_a_label_file() -> None:
    assert set(CODES) >= REQUIRED_LANGUAGES
    assert locales()[0].code == "en"


def test_no_spelling_means_two_things() -> None:
    assert aliases.AMBIGUOUS == {}


@pytest.mark.parametrize("code", CODES)
def test_every_language_names_the_words_a_report_needs(code: str) -> None:
    locale = _locale(code)
    for table, key in (("metric_columns", "all"), ("metric_columns", "long"),
                       ("metric_columns", "short"), ("trade_columns", "type"),
                       ("trade_columns", "price"), ("months", "jan"), ("months", "dec")):
        assert locale.words(table, key), f"{code}: {table}.{key} is empty"


# --------------------------------------------------------------------------- every language


@pytest.mark.parametrize("code", CODES)
def test_an_export_in_each_language_reads_without_a_warning(tmp_path: Path, code: str) -> None:
    trades = make_trades()
    written = write_xlsx(tmp_path / f"{code}.xlsx", trades, variant=locale_layout(_locale(code)),
                         currency="USDT")
    result = read_export(written.path)
    assert result.warnings == ()
    assert_trades(result.trades, trades)
    assert_metrics(result.metrics, report_stats(trades))
    assert result.properties["symbol"] == SYMBOL
    assert result.properties["currency"] == "USDT"
    assert dict(result.properties["inputs"]) == INPUTS
    assert result.properties["backtesting_range_from"] == "2024-01-01"
    assert result.metrics["max_drawdown_duration_close_to_close_days"] == 31.0


@pytest.mark.parametrize(("code", "decimal", "group", "dates"), [
    ("de", ",", ".", "%d.%m.%Y %H:%M"),
    ("ru", ",", "\u00a0", "%d.%m.%Y %H:%M"),
    ("fr", ",", "\u202f", "%d/%m/%Y %H:%M"),
    ("pl", ",", " ", "%d.%m.%Y %H:%M"),
    ("ja", ".", ",", "%Y/%m/%d %H:%M"),
    ("en", ".", ",", "%Y-%m-%d %H:%M"),
])
def test_a_csv_in_each_locale_number_and_date_form(tmp_path: Path, code: str, decimal: str,
                                                   group: str, dates: str) -> None:
    """Decimal commas, grouped thousands, Unicode minus, local dates, semicolons."""
    trades = make_trades(8, start=datetime(2024, 1, 2, 9, 30))
    written = write_csv(tmp_path / "en.csv", trades, variant=locale_layout(_locale(code)))
    path = tmp_path / f"{code}.csv"
    path.write_text(_localised(written.path.read_text(encoding="utf-8-sig"), decimal, group,
                               dates), encoding="utf-8-sig")
    result = read_export(path)
    assert_trades(result.trades, trades)
    assert result.metrics["total_trades"] == 7 and result.metrics["total_open_trades"] == 1
    assert not [w for w in result.warnings if "not in tvdesk's label tables" in w]


def _localised(text: str, decimal: str, group: str, dates: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";" if decimal == "," else ",", lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        cells = []
        for index, cell in enumerate(row):
            when = None
            if index > 1:
                with contextlib.suppress(ValueError):
                    when = datetime.fromisoformat(cell)
            if when is not None:
                cells.append(when.strftime(dates))
            elif index > 1 and parse_number(cell) is not None and cell.strip():
                cells.append(_number_text(float(cell), decimal, group))
            else:
                cells.append(cell)
        writer.writerow(cells)
    return out.getvalue()


def _number_text(value: float, decimal: str, group: str) -> str:
    text = f"{abs(value):,.4f}".rstrip("0").rstrip(".")
    whole, _, frac = text.partition(".")
    whole = whole.replace(",", group)
    return ("\u2212" if value < 0 else "") + whole + (decimal + frac if frac else "")


def test_usdjpy_takes_the_pnl_currency_from_the_pnl_columns(tmp_path: Path) -> None:
    written = write_xlsx(tmp_path / "usdjpy.xlsx", currency="USD")
    book = load_workbook(written.path)
    sheet = book["List of trades"]
    for cell in sheet[1]:
        if str(cell.value).startswith("Price"):
            cell.value = "Price JPY"
    book.save(written.path)
    result = read_export(written.path)
    assert result.properties["price_currency"] == "JPY"
    assert result.properties["currency"] == "USD"


# --------------------------------------------------------------------------- numbers and dates


@pytest.mark.parametrize(("text", "decimal", "value"), [
    ("1234.5", None, 1234.5), ("1,234.5", None, 1234.5), ("1.234,5", None, 1234.5),
    ("1 234,5", None, 1234.5), ("1\u00a0234,5", None, 1234.5), ("1\u202f234,5", None, 1234.5),
    ("1'234.5", None, 1234.5), ("\u221212.5", None, -12.5), ("12,5 %", None, 12.5),
    ("-0,27%", None, -0.27), ("1,234", None, 1234.0), ("1,234", ",", 1.234),
    ("1.234", ",", 1234.0), ("1.234", None, 1.234), ("12 345 678", None, 12345678.0),
    ("1.234.567", None, 1234567.0), ("$1,234.50", None, 1234.5), ("1 234,50 USDT", None, 1234.5),
    (",5", None, 0.5),
])
def test_numbers_in_every_locale_form(text: str, decimal: str | None, value: float) -> None:
    assert parse_number(text, decimal) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "12-5", "1,2,3.4,5", "", "1.2.3,4.5", "--1"])
def test_text_that_is_no_number_stays_none(text: str) -> None:
    assert parse_number(text) is None


def test_a_column_proves_its_decimal_mark() -> None:
    assert decimal_mark(["1,234", "0,5"]) == ","
    assert decimal_mark(["1,234", "2.5"]) == "."
    assert decimal_mark(["1,234", "5,678"]) is None


@pytest.mark.parametrize(("text", "dates"), [
    ("2024-01-02 — 2024-12-31", ["2024-01-02", "2024-12-31"]),
    ("Jan 02, 2024 — Dec 31, 2024", ["2024-01-02", "2024-12-31"]),
    ("2 янв. 2024 г. — 31 дек. 2024 г.", ["2024-01-02", "2024-12-31"]),
    ("02.01.2024 — 31.12.2024", ["2024-01-02", "2024-12-31"]),
    ("2024/01/02 — 2024/12/31", ["2024-01-02", "2024-12-31"]),
    ("2024年1月2日 — 2024年12月31日", ["2024-01-02", "2024-12-31"]),
    ("2024년 1월 2일 — 2024년 12월 31일", ["2024-01-02", "2024-12-31"]),
    ("2 de jan de 2024 — 31 de dez de 2024", ["2024-01-02", "2024-12-31"]),
    ("02 Okt 2024 — 31 Dez 2024", ["2024-10-02", "2024-12-31"]),
    ("13/01/2024 — 31/12/2024", ["2024-01-13", "2024-12-31"]),
    ("01/13/2024 — 12/31/2024", ["2024-01-13", "2024-12-31"]),
    ("02/01/2024", []),  # no day above 12: 2 January or 1 February
])
def test_dates_in_every_locale_form(text: str, dates: list[str]) -> None:
    from tvdesk.exports.dates import slashed_day_first

    found = find_datetimes(text, slashed_day_first([text]))
    assert [moment.date().isoformat() for _pos, moment in found] == dates


# --------------------------------------------------------------------------- unknown words


def _nonsense(rng: random.Random, used: set[str]) -> str:
    while True:
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9)))
        if word not in used and aliases.metric_column(word) is None:
            used.add(word)
            return word.title()


def _scramble(path: Path, seed: int, *, keep_suffixes: bool) -> dict[str, str]:
    """Every sheet name, header, type word, scope word, metric label and the "Open" signal
    replaced by a word nobody knows (consistently: one word per original)."""
    rng = random.Random(seed)
    used: set[str] = set()
    words: dict[str, str] = {}

    def swap(text: str) -> str:
        base, currency = aliases.split_currency(text)
        percent = base.endswith("%")
        core = base[:-1].strip() if percent else base
        if core not in words:
            words[core] = _nonsense(rng, used)
        if not keep_suffixes:
            return words[core] if not percent else _nonsense(rng, used)
        return words[core] + (" %" if percent else f" {currency}" if currency else "")

    book = load_workbook(path)
    trades_sheet, *_ = [s for s in book.worksheets if s.title in ("List of trades", "Trades")]
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows())
        if sheet is trades_sheet:
            for cell in rows[0]:
                cell.value = swap(str(cell.value))
            type_col = 1
            signal_col = next(i for i, c in enumerate(rows[0]) if i in (2, 3) and
                              not isinstance(rows[1][i].value, (int, float)))
            for row in rows[1:]:
                row[type_col].value = swap(str(row[type_col].value))
                if row[signal_col].value == "Open":
                    row[signal_col].value = swap("Open")
        elif sheet.title != "Properties":
            for cell in rows[0][1:]:
                cell.value = swap(str(cell.value))
            for row in rows[1:]:
                row[0].value = swap(str(row[0].value))
    for sheet in book.worksheets:
        sheet.title = _nonsense(rng, used)
    book.save(path)
    return words


@pytest.mark.parametrize("variant", ["2024", "2025", "2026mid"])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("keep_suffixes", [True, False])
def test_a_workbook_with_every_name_unknown_reads_by_structure(
        tmp_path: Path, variant: str, seed: int, keep_suffixes: bool) -> None:
    trades = make_trades(9, open_last=True)
    written = write_xlsx(tmp_path / "x.xlsx", trades, variant=variant)
    _scramble(written.path, seed, keep_suffixes=keep_suffixes)
    result = read_export(written.path)
    assert_trades(result.trades, trades)
    stats = report_stats(trades)
    for key in ("net_profit", "net_profit_long", "net_profit_short", "gross_profit",
                "gross_loss", "total_trades", "profit_factor"):
        assert result.metrics[key] == pytest.approx(stats[key]), key
    text = " | ".join(result.warnings)
    assert "read by their position and content" in text
    assert "taken as still open" in text
    assert "named by their values" in text


def test_a_table_structure_cannot_explain_is_refused_naming_sheet_and_columns(
        tmp_path: Path) -> None:
    written = write_xlsx(tmp_path / "x.xlsx", variant="2025")
    book = load_workbook(written.path)
    sheet = book["List of trades"]
    sheet.delete_cols(2)  # no type column: a width no layout has
    for index, cell in enumerate(sheet[1]):
        cell.value = f"Qqq{index}"
    book.save(written.path)
    with pytest.raises(InputError) as info:
        read_export(written.path)
    message = str(info.value)
    assert "sheet 'List of trades'" in message
    assert "cannot tell which column holds the" in message
    assert "no known List-of-trades layout has 14 columns" in message
    assert "'Qqq0'" in message and info.value.line == 1


@pytest.mark.parametrize(("lookup", "text", "expected"), [
    (aliases.trade_column, "Typ", ("type", None)),
    (aliases.trade_column, "Lucro e Prejuízo Líquido USDC", ("profit", "USDC")),
    (aliases.metric_column, "Все USDT", ("all", False, "USDT")),
    (aliases.metric_column, "Длинная USDT", ("long", False, "USDT")),
    (aliases.metric_column, "Короткая %", ("short", True, None)),
])
def test_the_labels_real_german_russian_and_portuguese_exports_use(lookup: Any, text: str,
                                                                    expected: Any) -> None:
    assert lookup(text) == expected


def test_a_newest_trade_closed_with_its_own_signal_stays_closed_in_english(
        tmp_path: Path) -> None:
    """Only a file in a language whose "Open" tvdesk cannot know is read by shape."""
    trades = make_trades(6, open_last=False)
    trades[-1] = replace(trades[-1], exit_signal="Close at end")
    result = read_export(write_csv(tmp_path / "en.csv", trades, variant="2026mid").path)
    assert not any(t.open for t in result.trades)
    assert_trades(result.trades, trades)


def test_an_export_with_no_trades_reads_as_none(tmp_path: Path) -> None:
    """A header and no rows: no cell contradicts the names, so nothing is refused."""
    path = tmp_path / "none.csv"
    path.write_text("\ufeffTrade #,Type,Date and time,Signal,Price USD,Size (qty),Size (value),"
                    "Net P&L USD,Net P&L %,Favorable excursion USD,Favorable excursion %,"
                    "Adverse excursion USD,Adverse excursion %,Cumulative P&L USD,"
                    "Cumulative P&L %\n", encoding="utf-8")
    result = read_export(path)
    assert result.trades == () and result.metrics["total_trades"] == 0
