"""The Setup panel as a trader sees it in the window: laid out without clipping at common
window sizes, nonsense refused at its field (not only at the bottom of the form), the data's
dates offered by the date pickers, and the strategy() properties overridable."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from tvdesk.config import Settings
from tvdesk.gui.main_window import MainWindow
from tvdesk.gui.qt import QtCore, QtWidgets

ROOT = Path(__file__).resolve().parents[2]
MULTI = ROOT / "pine" / "examples" / "multi_condition.pine"
EURUSD = ROOT / "resources" / "data" / "EURUSD_1h.csv"
GOOG = ROOT / "resources" / "data" / "GOOG_1d.csv"


@pytest.fixture
def window(qtbot, qapp, tmp_path: Path, loop):
    """The main window at 1400x900, shown, with the multi-condition example (the most
    inputs) and the bundled EURUSD data."""
    win = MainWindow(Settings(), tmp_path / "runs.db")
    win.setup.set_paths(MULTI, EURUSD)
    win.setup.mintick.setText("0.00001")
    win.resize(1400, 900)
    win.show()
    settle(qapp)
    yield win
    loop.run_until_complete(win.controller.shutdown())
    win.close()
    win.deleteLater()
    loop.run_until_complete(asyncio.sleep(0))


def settle(qapp) -> None:
    for _ in range(4):
        qapp.processEvents()


def _outside_scroll_viewports(widget: QtWidgets.QWidget, body: QtWidgets.QWidget) -> bool:
    """Not a widget inside a table's or text view's own scrolled viewport."""
    parent = widget.parentWidget()
    while parent is not None and parent is not body:
        if isinstance(parent, QtWidgets.QAbstractScrollArea) and widget is not parent and \
                parent.viewport().isAncestorOf(widget):
            return False
        parent = parent.parentWidget()
    return True


@pytest.mark.parametrize("width", [1400, 1600])
def test_the_form_lays_out_without_clipping(window, qapp, width: int) -> None:
    window.resize(width, 900)
    settle(qapp)
    form = window.setup
    body, viewport = form.widget(), form.viewport()
    assert not form.horizontalScrollBar().isVisible()
    assert body.width() <= viewport.width()
    assert viewport.width() > 300  # a usable dock, not a sliver
    clipped = []
    for child in body.findChildren(QtWidgets.QWidget):
        if not child.isVisibleTo(body) or child.isWindow() \
                or not _outside_scroll_viewports(child, body):
            continue
        right = child.mapTo(body, QtCore.QPoint(child.width() - 1, 0)).x()
        if right >= viewport.width():
            clipped.append(f"{type(child).__name__} {child.objectName()!r} ends at {right}")
    assert not clipped, clipped
    # Buttons and labels show their whole text (nothing elided or cut).
    for button in body.findChildren(QtWidgets.QAbstractButton):
        if button.isVisibleTo(body):
            assert button.sizeHint().width() <= button.width(), button.text()
    for label in body.findChildren(QtWidgets.QLabel):
        if label.isVisibleTo(body) and not label.wordWrap():
            assert label.sizeHint().width() <= label.width(), label.text()
    # The inputs table: every column in view, Min / Max / Step at their full width.
    table, header = form.inputs, form.inputs.horizontalHeader()
    assert not table.horizontalScrollBar().isVisible()
    assert header.length() <= table.viewport().width()
    for column in (0, 2, 3, 4, 5):
        assert header.sectionSize(column) >= table.sizeHintForColumn(column), column
    assert header.sectionResizeMode(1) == QtWidgets.QHeaderView.ResizeMode.Stretch


def _scroll_top(form, qapp) -> None:
    form.verticalScrollBar().setValue(0)
    settle(qapp)


def _in_view(form, widget: QtWidgets.QWidget) -> bool:
    top = widget.mapTo(form.viewport(), QtCore.QPoint(0, 0)).y()
    return top >= 0 and top + widget.height() <= form.viewport().height()


def test_conditions_outside_the_inputs_range_are_shown_at_the_field(window, qapp) -> None:
    form = window.setup
    window.activateWindow()
    _scroll_top(form, qapp)
    assert not _in_view(form, form.conditions)
    form.conditions.setText("7-9")
    window.run_action.trigger()
    settle(qapp)
    assert not window.controller.running
    message = form.error.text()
    assert "condition 7" in message and "'Condition'" in message and "1 … 4" in message
    assert form.error_field() is form.conditions and not form.error.isHidden()
    assert "border" in form.conditions.styleSheet() and form.conditions.hasFocus()
    # Right under the field, in its own group, and scrolled into view.
    assert form.error.parentWidget() is form.conditions.parentWidget()
    body = form.widget()

    def y(widget: QtWidgets.QWidget) -> int:
        return widget.mapTo(body, QtCore.QPoint(0, 0)).y()

    assert y(form.conditions) < y(form.error) < y(form.condition_input)
    assert _in_view(form, form.conditions) and _in_view(form, form.error)
    # Fixed: the message goes, the field is plain, the form is as before.
    group_form = form.conditions.parentWidget().layout()
    rows = group_form.rowCount()
    form.conditions.setText("1-4")
    assert form.build_settings() is not None
    assert form.error.isHidden() and form.error_field() is None
    assert form.conditions.styleSheet() == ""
    assert group_form.rowCount() == rows - 1


@pytest.mark.parametrize(("text", "wanted"), [
    ("foo_bar>=3", "unknown metric 'foo_bar'"),
    ("net_proft>=1", "did you mean net_profit"),
])
def test_a_target_on_an_unknown_metric_is_shown_at_the_targets_field(window, text: str,
                                                                     wanted: str) -> None:
    form = window.setup
    form.constraints.setText(text)
    window.run_action.trigger()
    assert not window.controller.running
    assert wanted in form.error.text() and form.error_field() is form.constraints


def test_missing_files_are_shown_at_their_fields(window, tmp_path: Path) -> None:
    form = window.setup
    form.data.edit.setText(str(tmp_path / "no.csv"))
    assert form.build_settings() is None
    assert form.error_field() is form.data.edit
    assert f"{tmp_path / 'no.csv'}: file not found" in form.error.text()
    form.data.edit.setText(str(EURUSD))
    form.script.edit.setText(str(tmp_path / "gone.pine"))
    assert form.build_settings() is None
    assert form.error_field() is form.script.edit and "gone.pine" in form.error.text()


def _row(form, title: str) -> int:
    return next(r for r in range(form.inputs.rowCount()) if form.inputs.item(r, 1).text() == title)


def test_a_search_range_with_min_above_max_is_shown_at_its_row(window) -> None:
    form = window.setup
    row = _row(form, "Length")
    normal = form.inputs.item(row, 3).background()
    form.inputs.item(row, 3).setText("50")
    form.inputs.item(row, 4).setText("10")
    window.run_action.trigger()
    assert not window.controller.running
    assert "'Length'" in form.error.text() and "min 50 is above max 10" in form.error.text()
    assert form.error_field() is form.inputs
    assert form.inputs.currentRow() == row
    assert form.inputs.item(row, 3).background() != normal
    form.inputs.item(row, 3).setText("5")
    form.inputs.item(row, 4).setText("0")
    form.inputs.item(row, 5).setText("0")
    assert form.build_settings() is None
    assert "'Length'" in form.error.text()
    form.inputs.item(row, 4).setText("50")
    form.inputs.item(row, 5).setText("-1")
    assert form.build_settings() is None and "step must be above 0" in form.error.text()
    form.inputs.item(row, 5).setText("5")
    settings = form.build_settings()
    assert settings is not None and settings.search_ranges["Length"] == {
        "min": 5.0, "max": 50.0, "step": 5.0}
    assert form.inputs.item(row, 3).background() == normal


def test_the_date_fields_offer_the_datas_dates(window, qapp) -> None:
    form = window.setup
    for field in (form.date_from_field, form.date_to_field):
        assert "data: 2017-04-19 … 2018-02-07" in field.edit.toolTip()
        assert field.calendar.minimumDate() == QtCore.QDate(2017, 4, 19)
        assert field.calendar.maximumDate() == QtCore.QDate(2018, 2, 7)
    assert "2017-04-19" in form.date_from.placeholderText()
    assert "2018-02-07" in form.date_to.placeholderText()
    # Empty means all data.
    settings = form.build_settings()
    assert settings is not None and settings.request.date_from is None
    form.date_from_field.calendar.clicked.emit(QtCore.QDate(2017, 6, 1))
    assert form.date_from.text() == "2017-06-01"
    settings = form.build_settings()
    assert settings is not None and settings.request.date_from.date().isoformat() == "2017-06-01"
    # Another data file: its dates.
    form.data.edit.setText(str(GOOG))
    form.data.edit.editingFinished.emit()
    assert "data: 2004-08-19 … 2013-03-01" in form.date_to.toolTip()
    # A window after the data's end is refused at the From field.
    form.data.edit.setText(str(EURUSD))
    form.date_from.setText("2019-01-01")
    assert form.build_settings() is None
    assert form.error_field() is form.date_from and "2018-02-07" in form.error.text()


def test_properties_show_the_scripts_values_and_pass_only_changes(window) -> None:
    form = window.setup
    assert form.initial_capital.text() == "10000"
    assert (form.order_size.text(), form.order_size_type.currentData()) == (
        "100", "strategy.percent_of_equity")
    assert (form.commission.text(), form.commission_type.currentData()) == (
        "0.02", "strategy.commission.percent")
    assert form.slippage.value() == 0
    assert "the script says 10000" in form.initial_capital.toolTip()
    assert form.run_form().options.settings == ()
    form.commission.setText("0.1")
    form.commission_type.setCurrentIndex(
        form.commission_type.findData("strategy.commission.cash_per_order"))
    form.slippage.setValue(3)
    settings = form.build_settings()
    assert settings is not None
    assert dict(settings.request.settings) == {
        "commission_value": 0.1, "commission_type": "strategy.commission.cash_per_order",
        "slippage": 3}
    # Back to the script's value: no override.
    form.commission.setText("0.02")
    assert "commission_value" not in dict(form.run_form().options.settings)


@pytest.mark.parametrize(("field", "value", "wanted"), [
    ("commission", "cheap", "expected a number, got 'cheap'"),
    ("initial_capital", "-5", "initial capital: expected a number above 0"),
    ("order_size", "0", "order size: expected a number above 0"),
])
def test_bad_properties_are_shown_at_their_field(window, field: str, value: str,
                                                  wanted: str) -> None:
    form = window.setup
    getattr(form, field).setText(value)
    window.run_action.trigger()
    assert not window.controller.running
    assert wanted in form.error.text() and form.error_field() is getattr(form, field)
    assert form.error.parentWidget() is getattr(form, field).parentWidget().parentWidget() \
        or form.error.parentWidget() is getattr(form, field).parentWidget()


def test_a_run_whose_data_cannot_be_read_fails_to_start_and_frees_the_buttons(
        window, loop, tmp_path: Path) -> None:
    """A data file that exists but is no bars file passes the form (it is read only when
    the run starts) and fails there, named in the status bar."""
    junk = tmp_path / "junk.csv"
    junk.write_text("hello\nworld\n")
    window.setup.data.edit.setText(str(junk))
    messages: list[str] = []
    window.controller.failed.connect(messages.append)
    future = loop.create_future()
    window.controller.idle.connect(lambda *a: future.done() or future.set_result(a))
    window.run_action.trigger()
    loop.run_until_complete(asyncio.wait_for(future, 240))
    assert messages and "junk.csv" in messages[0]
    assert window.run_action.isEnabled() and not window.stop_action.isEnabled()
