"""TradingView export readers: every layout, pairing, properties, checks and bad files."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest

from tvdesk.errors import InputError
from tvdesk.exports import aliases, export_matches, is_chart_data_csv, read_export, read_trades
from tvdesk.exports.cells import duration_days
from tvdesk.exports.properties import date_range, timeframe_key
from tvdesk.exports.xlsx_parts import XlsxBook, _expat_rows, _regular_rows
from tvdesk.model import BacktestResult

from export_fixtures import (
    INPUTS,
    assert_metrics,
    assert_trades,
    make_pyramided,
    make_trades,
    pyramided_row_order,
    report_stats,
    write_chart_csv,
    write_csv,
    write_encrypted_xlsx,
    write_text_as_xlsx,
    write_truncated_xlsx,
    write_xlsx,
)

VARIANTS = ("2024", "2025", "2026early", "2026mid", "pt")
# --------------------------------------------------------------------------- alias table


def test_normalise_unifies_spellings() -> None:
    same = {aliases.normalise(s) for s in ("Net P&L", "net pnl", "Net  PnL ", "NET P & L",
                                           "Net P and L")}
    assert len(same) == 1
    assert aliases.normalise("Análise de negociações") == "analise de negociacoes"
    assert aliases.normalise("Buy & Hold Return") == aliases.normalise("buy and hold return")


@pytest.mark.parametrize(("header", "field", "currency"), [
    ("Price USD", "price", "USD"), ("Price USDT", "price", "USDT"),
    ("Net P&L EUR", "profit", "EUR"), ("Net PnL USD", "profit", "USD"),
    ("Net P&L %", "profit_percent", None), ("Cum. Profit %", "cum_profit_percent", None),
    ("MAE USD", "drawdown", "USD"), ("Favorable excursion %", "run_up_percent", None),
    ("Trade number", "trade_number", None), ("Duration (bars)", "duration_bars", None),
    ("Preço BRL", "price", "BRL"), ("Size (value)", "position_value", None),
])
def test_trade_column_aliases(header: str, field: str, currency: str | None) -> None:
    assert aliases.trade_column(header) == (field, currency)


def test_metric_aliases() -> None:
    for label in ("Avg trade", "Avg P&L", "Expected payoff", "Avg PnL", "L&P médio"):
        assert aliases.metric_label(label) == ("avg_trade", False)
    assert aliases.metric_label("Largest winning trade percent") == (
        "largest_winning_trade", True)
    assert aliases.metric_column("Long USDT") == ("long", False, "USDT")
    assert aliases.metric_column("Venda %") == ("short", True, None)
    assert aliases.trade_type("Saída de venda") == ("exit", "short")
    assert aliases.bool_value("Desligado") is False


# --------------------------------------------------------------------------- every layout


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("date_mode", ["serial", "datetime", "iso"])
def test_every_xlsx_layout_reads_the_same(tmp_path: Path, variant: str, date_mode: str) -> None:
    trades = make_trades()
    written = write_xlsx(tmp_path / "export.xlsx", trades, variant=variant, date_mode=date_mode)
    result = read_export(written.path)
    assert result.source == "export"
    assert result.warnings == ()
    assert_trades(result.trades, trades)
    assert_metrics(result.metrics, report_stats(trades))


@pytest.mark.parametrize("shared", [False, True])
def test_inline_and_shared_strings(tmp_path: Path, shared: bool) -> None:
    written = write_xlsx(tmp_path / "export.xlsx", shared_strings=shared)
    with zipfile.ZipFile(written.path) as archive:
        sheet = archive.read("xl/worksheets/sheet4.xml").decode()
    assert ('t="inlineStr"' in sheet) is not shared
    assert ('t="s"' in sheet) is shared
    assert_trades(read_export(written.path).trades, make_trades())


@pytest.mark.parametrize("shared", [False, True])
def test_expat_path_reads_what_the_fast_path_reads(tmp_path: Path, shared: bool) -> None:
    written = write_xlsx(tmp_path / "export.xlsx", shared_strings=shared)
    with XlsxBook(written.path) as book:
        for name in book.sheet_names:
            data = book._zip.read(book._sheets[name])
            assert _regular_rows(data, book._strings) == _expat_rows(data, book._strings)


def test_cells_without_a_reference_or_empty_go_through_expat() -> None:
    sheet = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             '<sheetData><row r="1"><c r="A1" t="n"><v>1</v></c><c t="n"><v>2</v></c></row>'
             '<row r="2"><c r="A2"/><c r="B2" t="n"><v>4</v></c></row></sheetData></worksheet>')
    assert _regular_rows(sheet.encode(), []) is None  # `<c t=...>` has no r: not the fast path
    assert _expat_rows(sheet.encode(), []) == [(1, [1.0, 2.0]), (2, [None, 4.0])]
    bare = sheet.replace('<c t="n"><v>2</v></c>', "<c><v>2</v></c>")
    assert _regular_rows(bare.encode(), []) is None


def test_prefixed_namespace_goes_through_expat(tmp_path: Path) -> None:
    written = write_xlsx(tmp_path / "export.xlsx")
    prefixed = tmp_path / "prefixed.xlsx"
    with zipfile.ZipFile(written.path) as src, zipfile.ZipFile(prefixed, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.startswith("xl/worksheets/"):
                text = data.decode().replace("<worksheet xmlns=", "<x:worksheet xmlns:x=")
                text = text.replace("</worksheet>", "</x:worksheet>")
                for tag in ("sheetData", "row", "c", "v", "is", "t"):
                    text = text.replace(f"<{tag}>", f"<x:{tag}>").replace(f"<{tag} ",
                                                                          f"<x:{tag} ")
                    text = text.replace(f"</{tag}>", f"</x:{tag}>")
                data = text.encode()
            dst.writestr(item, data)
    assert_trades(read_export(prefixed).trades, make_trades())


def test_times_are_aware_in_the_chart_timezone(tmp_path: Path) -> None:
    trades = make_trades()
    written = write_xlsx(tmp_path / "export.xlsx", trades)
    result = read_export(written.path, timezone="America/New_York")
    assert_trades(result.trades, trades, "America/New_York")
    assert result.trades[0].entry_time.utcoffset() is not None
    assert BacktestResult.from_dict(result.to_dict()).trades == result.trades


def test_portuguese_export(tmp_path: Path) -> None:
    trades = make_trades()
    result = read_export(write_xlsx(tmp_path / "pt.xlsx", trades, variant="pt").path)
    assert_trades(result.trades, trades)
    assert result.metrics["net_profit"] == pytest.approx(report_stats(trades)["net_profit"])
    assert result.metrics["max_drawdown_duration_close_to_close_days"] == 31.0
    assert result.properties["inputs"]["Use filter"] is True
    assert result.properties["backtesting_range_from"] == "2024-01-01"
    assert result.properties["symbol"] == "NASDAQ:AAPL"


def test_metric_keys_and_values(tmp_path: Path) -> None:
    result = read_export(write_xlsx(tmp_path / "export.xlsx").path)
    metrics = result.metrics
    assert metrics["total_trades"] == 5 and isinstance(metrics["total_trades"], int)
    assert metrics["total_open_trades"] == 1
    assert metrics["percent_profitable"] == 40.0  # from the % column, no `_percent` suffix
    assert metrics["largest_winning_trade_percent"] == 4.4  # its own row since late 2025
    assert metrics["gross_loss"] > 0  # losses are positive magnitudes
    assert metrics["avg_winning_trade_short"] is None  # "N/A" in the sheet
    assert metrics["max_drawdown_of_initial_capital"] == 0.36


def test_unknown_metric_label_is_kept_and_reported(tmp_path: Path) -> None:
    written = write_xlsx(tmp_path / "export.xlsx", extra_metric_rows=[
        ["Kelly fraction", 0.12, None, None, None, None, None],
        ["Avg time in trade", "1 day 6 hours", None, None, None, None, None]])
    result = read_export(written.path)
    assert result.metrics["kelly_fraction"] == 0.12
    assert result.metrics["avg_time_in_trade_days"] == pytest.approx(1.25)
    assert any("Kelly fraction" in w for w in result.warnings)


def test_sheet_found_by_position_when_renamed(tmp_path: Path) -> None:
    written = write_xlsx(tmp_path / "export.xlsx", rename={"List of trades": "Handelsliste"})
    result = read_export(written.path)
    assert len(result.trades) == 6
    assert any("Handelsliste" in w and "position" in w for w in result.warnings)


def test_missing_properties_sheet_is_a_warning(tmp_path: Path) -> None:
    written = write_xlsx(tmp_path / "export.xlsx", omit_sheets=("Properties",))
    result = read_export(written.path)
    assert any("Properties" in w for w in result.warnings)
    assert result.properties["currency"] == "USD"  # from the headers


# --------------------------------------------------------------------------- pairing


def test_pyramided_trades_pair_by_number(tmp_path: Path) -> None:
    trades = make_pyramided()
    order = pyramided_row_order(trades)
    assert order[-4:] == [(2, "exit"), (1, "exit"), (2, "entry"), (1, "entry")]
    written = write_xlsx(tmp_path / "pyramid.xlsx", trades, row_order=order)
    result = read_export(written.path)
    assert_trades(result.trades, trades)
    assert result.trades[0].entry_time < result.trades[1].entry_time < \
        result.trades[0].exit_time < result.trades[1].exit_time  # type: ignore[operator]
    assert result.warnings == ()


def test_open_trade(tmp_path: Path) -> None:
    trades = make_trades(6, open_last=True)
    result = read_export(write_xlsx(tmp_path / "export.xlsx", trades).path)
    last = result.trades[-1]
    assert last.open and last.exit_time is None and last.exit_price is None
    assert last.profit == trades[-1].profit  # the unrealised P&L
    assert len(result.closed_trades) == 5
    assert result.warnings == ()


def test_short_only_strategy(tmp_path: Path) -> None:
    trades = make_trades(5, sides=("short",), open_last=False)
    result = read_export(write_xlsx(tmp_path / "short.xlsx", trades).path)
    assert {t.side for t in result.trades} == {"short"}
    assert result.metrics["total_trades_long"] == 0
    assert result.metrics["net_profit_short"] == pytest.approx(result.metrics["net_profit"])
    assert result.warnings == ()


def test_side_only_type_cells_pair_by_time(tmp_path: Path) -> None:
    trades = make_trades()
    overrides = {(t.number, role, "type"): t.side.title() for t in trades
                 for role in ("entry", "exit")}
    result = read_export(write_xlsx(tmp_path / "e.xlsx", trades, overrides=overrides).path)
    assert_trades(result.trades, trades)


def test_read_trades_only(tmp_path: Path) -> None:
    trades = make_trades()
    assert_trades(read_trades(write_xlsx(tmp_path / "e.xlsx", trades).path), trades)
    assert_trades(read_trades(write_csv(tmp_path / "e.csv", trades).path), trades)


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("bom", [True, False])
def test_csv_variants(tmp_path: Path, variant: str, bom: bool) -> None:
    trades = make_trades()
    written = write_csv(tmp_path / "trades.csv", trades, variant=variant, bom=bom)
    result = read_export(written.path)
    assert_trades(result.trades, trades)
    assert dict(result.metrics) == {"total_trades": 5, "total_open_trades": 1}
    assert result.properties["currency"] == "USD"
    assert result.warnings == ()


def test_csv_daily_dates(tmp_path: Path) -> None:
    trades = make_trades(4, start=datetime(2024, 1, 2), open_last=False)
    trades = [t.__class__(**{**t.__dict__, "exit_time": t.exit_time.replace(hour=0)})
              for t in trades]
    written = write_csv(tmp_path / "daily.csv", trades, intraday=False)
    result = read_export(written.path, timezone="Asia/Tokyo")
    assert_trades(result.trades, trades, "Asia/Tokyo")


def test_csv_pyramided_and_short(tmp_path: Path) -> None:
    trades = make_pyramided()
    assert_trades(read_export(write_csv(tmp_path / "p.csv", trades).path).trades, trades)
    shorts = make_trades(3, sides=("short",))
    assert_trades(read_export(write_csv(tmp_path / "s.csv", shorts).path).trades, shorts)


def test_chart_data_csv_is_detected(tmp_path: Path) -> None:
    chart = write_chart_csv(tmp_path / "chart.csv")
    assert is_chart_data_csv(chart)
    assert not is_chart_data_csv(write_csv(tmp_path / "trades.csv").path)
    assert not is_chart_data_csv(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="--data"):
        read_export(chart)


# --------------------------------------------------------------------------- properties


def test_properties_echo(tmp_path: Path) -> None:
    props = read_export(write_xlsx(tmp_path / "e.xlsx", variant="2024").path).properties
    assert dict(props["inputs"]) == INPUTS
    assert props["timeframe"] == "60"
    assert props["tick_size"] == 0.01 and props["point_value"] == 1
    assert props["initial_capital"] == 10_000 and props["pyramiding"] == 1
    assert props["order_size"] == "10 Contracts"
    assert props["backtesting_range_from"] == "2024-01-01"
    assert props["backtesting_range_to"] == "2024-12-31"
    assert props["trading_range_from"] == "2024-01-02"


@pytest.mark.parametrize("variant", ["2024", "2025", "pt"])
def test_export_matches_positive(tmp_path: Path, variant: str) -> None:
    result = read_export(write_xlsx(tmp_path / "e.xlsx", variant=variant).path)
    assert export_matches(result, inputs=INPUTS, date_from=date(2024, 1, 1),
                          date_to=date(2024, 12, 31), symbol="AAPL", timeframe="1h") == []
    loose = {"length": "14", "Use filter": "On", "Multiplier": 1.50, "Source": "Close"}
    assert export_matches(result, inputs=loose, symbol="nasdaq:aapl", timeframe="60") == []


def test_export_matches_negative(tmp_path: Path) -> None:
    result = read_export(write_xlsx(tmp_path / "e.xlsx").path)
    problems = export_matches(
        result, inputs={"Length": 20, "Use filter": False, "Missing input": 1},
        date_from=date(2023, 1, 1), date_to=datetime(2024, 6, 30, 12), symbol="MSFT",
        timeframe="D")
    assert len(problems) == 7
    for word in ("Length", "Use filter", "Missing input", "2023-01-01", "2024-06-30", "MSFT",
                 "timeframe"):
        assert any(word in p for p in problems), word


def test_export_matches_csv_cannot_prove_anything(tmp_path: Path) -> None:
    result = read_export(write_csv(tmp_path / "t.csv").path)
    assert export_matches(result) == []
    assert len(export_matches(result, inputs={"Length": 14}, date_from=date(2024, 1, 1))) == 2


def test_helpers() -> None:
    assert duration_days("31 days") == 31
    assert duration_days("2 weeks 3 days") == 17
    assert duration_days("12 horas") == 0.5
    assert duration_days("soon") is None
    assert date_range("Jan 02, 2024 — Mar 31, 2025") == ("2024-01-02", "2025-03-31")
    assert date_range("02 jan 2024 — 31 dez 2024") == ("2024-01-02", "2024-12-31")
    assert date_range("01/02/2024 — 03/04/2024") == (None, None)
    assert timeframe_key("60") == timeframe_key("1h") == timeframe_key("60 minutes")
    assert timeframe_key("D") == timeframe_key("1D") == timeframe_key("1 day")
    assert timeframe_key("1M") != timeframe_key("1m")


# --------------------------------------------------------------------------- consistency


def test_consistency_warnings_fire(tmp_path: Path) -> None:
    stats = report_stats(make_trades())
    stats.update(net_profit=999.0, total_trades=7)
    result = read_export(write_xlsx(tmp_path / "bad.xlsx", stats=stats).path)
    assert any("Net profit = 999.00" in w for w in result.warnings)
    assert any("Total trades = 7" in w for w in result.warnings)
    assert result.metrics["net_profit"] == 999.0  # TradingView's number is kept


def test_rounding_is_tolerated(tmp_path: Path) -> None:
    stats = report_stats(make_trades())
    stats["net_profit"] += 0.05  # within 0.01 × 5 trades + 0.01
    assert read_export(write_xlsx(tmp_path / "ok.xlsx", stats=stats).path).warnings == ()


def test_csv_cumulative_check(tmp_path: Path) -> None:
    trades = make_trades()
    overrides = {(5, role, "cum_profit"): 500.0 for role in ("entry", "exit")}
    result = read_export(write_csv(tmp_path / "t.csv", trades, overrides=overrides).path)
    assert any("cumulative" in w for w in result.warnings)


# --------------------------------------------------------------------------- bad files


def raises(path: Path, match: str) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        read_export(path)
    assert info.value.source == str(path)
    assert info.value.exit_code == 2
    return info.value


def test_text_file_named_xlsx(tmp_path: Path) -> None:
    raises(write_text_as_xlsx(tmp_path / "fake.xlsx"), "not a spreadsheet")


def test_truncated_xlsx(tmp_path: Path) -> None:
    raises(write_truncated_xlsx(tmp_path / "cut.xlsx"), "truncated or corrupt")


def test_password_protected_xlsx(tmp_path: Path) -> None:
    raises(write_encrypted_xlsx(tmp_path / "locked.xlsx"), "password-protected or legacy .xls")


def test_missing_sheet(tmp_path: Path) -> None:
    written = write_xlsx(tmp_path / "e.xlsx", omit_sheets=("List of trades",))
    error = raises(written.path, "no 'List of trades' sheet")
    assert error.column == "List of trades"
    assert "'Performance'" in str(error)  # lists the sheets it has


def test_an_extra_unknown_column_is_named_in_a_warning_and_the_rest_reads(
        tmp_path: Path) -> None:
    written = write_xlsx(tmp_path / "e.xlsx", extra_header="Banana USD")
    result = read_export(written.path)
    assert_trades(result.trades, make_trades())
    assert any("sheet 'List of trades': columns not read: 'Banana USD'" in w
               for w in result.warnings)


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_non_numeric_cell(tmp_path: Path, kind: str) -> None:
    overrides = {(3, "exit", "price"): "abc"}
    written = (write_xlsx(tmp_path / "e.xlsx", overrides=overrides) if kind == "xlsx"
               else write_csv(tmp_path / "e.csv", overrides=overrides))
    error = raises(written.path, "expected a number, found 'abc'")
    assert error.line == written.rows[(3, "exit")]
    assert error.column == "Price USD"
    if kind == "xlsx":
        assert f"sheet 'List of trades', row {error.line}" in str(error)


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_unparseable_date(tmp_path: Path, kind: str) -> None:
    overrides = {(2, "entry", "datetime"): "next Tuesday"}
    written = (write_xlsx(tmp_path / "e.xlsx", overrides=overrides) if kind == "xlsx"
               else write_csv(tmp_path / "e.csv", overrides=overrides))
    error = raises(written.path, "expected a date")
    assert error.line == written.rows[(2, "entry")]
    assert error.column == "Date and time"


def test_non_numeric_metric_cell(tmp_path: Path) -> None:
    stats = report_stats(make_trades())
    stats["gross_profit_long"] = "lots"
    error = raises(write_xlsx(tmp_path / "e.xlsx", stats=stats).path, "found 'lots'")
    assert error.column == "Long USD" and "sheet 'Performance'" in str(error)


def test_an_unknown_trade_type_is_read_from_its_trade_and_named(tmp_path: Path) -> None:
    written = write_xlsx(tmp_path / "e.xlsx", overrides={(1, "exit", "type"): "Sideways"})
    result = read_export(written.path)
    assert_trades(result.trades, make_trades())
    assert any("trade types not in tvdesk's label tables" in w and "'Sideways' as exit "
               in w for w in result.warnings)


def test_type_words_nothing_can_explain_fail_naming_the_word(tmp_path: Path) -> None:
    path = tmp_path / "flat.csv"
    path.write_text("Trade #,Type,Signal,Date/Time,Price USD,Contracts,Profit USD\n"
                    "1,Aus A,x,2024-01-03 10:00,100,1,0\n1,Ein A,y,2024-01-02 10:00,100,1,0\n"
                    "2,Aus B,x,2024-01-05 10:00,100,1,0\n2,Ein B,y,2024-01-04 10:00,100,1,0\n",
                    encoding="utf-8")
    error = raises(path, "cannot tell whether the trade type 'Ein A' is long or short")
    assert error.column == "Type" and error.line == 3


def test_duplicate_entry_rows(tmp_path: Path) -> None:
    written = write_xlsx(tmp_path / "e.xlsx", overrides={(1, "exit", "type"): "Entry long"})
    raises(written.path, "trade 1 has 2 entry and 0 exit rows")


def test_other_bad_inputs(tmp_path: Path) -> None:
    raises(tmp_path / "missing.xlsx", "file not found")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    raises(empty, "empty")
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"\x00\x01\x02garbage")
    raises(binary, "not a text file")
    docx = tmp_path / "doc.xlsx"
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    raises(docx, "no xl/workbook.xml")
    with pytest.raises(InputError, match="unknown timezone"):
        read_export(write_csv(tmp_path / "t.csv").path, timezone="Mars/Olympus")


# --------------------------------------------------------------------------- size


def test_ten_thousand_trades(tmp_path: Path) -> None:
    trades = make_trades(10_000, open_last=False)
    written = write_xlsx(tmp_path / "big.xlsx", trades, variant="2026mid")
    result = read_export(written.path)
    assert len(result.trades) == 10_000
    assert result.trades[-1].number == 10_000
    assert result.metrics["total_trades"] == 10_000
    assert result.warnings == ()
