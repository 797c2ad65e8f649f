"""The run's setup: strategy, data, range, conditions, targets, engine, limits.

The form only collects text and numbers into a `RunForm`; `tvdesk.app.optimize_settings`
checks them with the same code and the same messages as the CLI. An `InputError` names the
flag its field stands for, and the form shows the message under that field, inline.
"""

from __future__ import annotations

from pathlib import Path

from tvdesk.app.optimize_settings import RunForm, settings_from_form
from tvdesk.app.requests import RunOptions
from tvdesk.config import Settings
from tvdesk.errors import InputError, TvdeskError
from tvdesk.gui.qt import QtCore, QtGui, QtWidgets, Signal
from tvdesk.model import Strategy
from tvdesk.optimize.settings import OptimizeSettings
from tvdesk.optimize.space import build_space
from tvdesk.pine.loader import load_strategy

_OFF = "off"


class _OptionalNumber(QtWidgets.QDoubleSpinBox):
    """A number that can be switched off (shown as "off" at the minimum)."""

    def __init__(self, maximum: float, decimals: int = 2, parent=None) -> None:
        super().__init__(parent)
        self.setRange(-1, maximum)
        self.setDecimals(decimals)
        self.setSpecialValueText(_OFF)
        self.setValue(-1)

    def number(self) -> float | None:
        return None if self.value() < 0 else float(self.value())

    def set_number(self, value: float | None) -> None:
        self.setValue(-1 if value is None else value)


class _PathField(QtWidgets.QWidget):
    """A path: a line edit (`edit`) and a "…" button (`button`) beside it."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        row = QtWidgets.QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.edit = QtWidgets.QLineEdit()
        self.button = QtWidgets.QToolButton()
        self.button.setText("…")
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)


class SetupForm(QtWidgets.QScrollArea):
    strategy_loaded = Signal(object)  # tvdesk.model.Strategy

    def __init__(self, config: Settings, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.config = config
        self.strategy: Strategy | None = None
        self.setWidgetResizable(True)
        body = QtWidgets.QWidget()
        self.setWidget(body)
        outer = QtWidgets.QVBoxLayout(body)

        self.profile = QtWidgets.QComboBox()
        self.profile.addItem("(no profile)")
        self.profile.addItems(sorted(config.profiles))
        self.profile.currentTextChanged.connect(self._apply_profile)
        self.script = self._path_field("Pine strategy (*.pine)")
        self.script.edit.editingFinished.connect(self._load_script)
        self.code = QtWidgets.QPlainTextEdit()
        self.code.setReadOnly(True)
        self.code.setFont(QtGui.QFontDatabase.systemFont(
            QtGui.QFontDatabase.SystemFont.FixedFont))
        self.code.setMinimumHeight(120)
        self.code.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.inputs = QtWidgets.QTableWidget(0, 6)
        self.inputs.setHorizontalHeaderLabels(["Search", "Input", "Default", "Min", "Max",
                                               "Step"])
        self.inputs.horizontalHeader().setStretchLastSection(True)
        self.inputs.verticalHeader().setVisible(False)
        self.inputs.setMinimumHeight(150)

        self.data = self._path_field("Market data (*.csv)")
        self.security = QtWidgets.QLineEdit(
            placeholderText="SYMBOL=file.csv, ... (request.security on other symbols)")
        self.security.setToolTip("Bars of the other symbols the script requests with "
                                 "request.security, as SYMBOL=FILE separated by commas. The "
                                 "chart symbol's higher timeframes are built from the data "
                                 "file.")
        self.magnifier = self._path_field("Lower-timeframe bars (*.csv)")
        self.magnifier.edit.setPlaceholderText("optional: fills orders inside bars")
        self.magnifier.setToolTip("Lower-timeframe bars of the chart symbol: orders fill as "
                                  "TradingView's Bar magnifier fills them")
        self.symbol = QtWidgets.QLineEdit(placeholderText="EXCHANGE:SYMBOL")
        self.timezone = QtWidgets.QLineEdit(placeholderText=config.timezone)
        self.session = QtWidgets.QLineEdit(placeholderText="24 hours (e.g. 0930-1600)")
        self.session.setToolTip("Trading session as TradingView writes it (0930-1600, "
                                "1700-1700:23456): higher-timeframe bars start at its open")
        self.mintick = QtWidgets.QLineEdit(placeholderText="from the data")
        self.pointvalue = QtWidgets.QLineEdit(placeholderText="1")
        self.date_from = QtWidgets.QLineEdit(placeholderText="YYYY-MM-DD")
        self.date_to = QtWidgets.QLineEdit(placeholderText="YYYY-MM-DD")
        self.holdout = QtWidgets.QSpinBox(suffix=" %", maximum=80, value=20)
        self.conditions = QtWidgets.QLineEdit(placeholderText="e.g. 1-4 (empty: one track)")
        self.condition_input = QtWidgets.QLineEdit("Condition")
        self.min_trades = _OptionalNumber(100000, 0)
        self.max_drawdown = _OptionalNumber(100)
        self.min_profit_factor = _OptionalNumber(100)
        self.constraints = QtWidgets.QLineEdit(placeholderText="sharpe_ratio>=0.2, ...")
        self.engine = QtWidgets.QComboBox()
        self.engine.addItem("local (PyneCore, offline)", "local")
        self.engine.addItem("TradingView (browser; account in the keyring)", "tradingview")
        self.engine.setToolTip("TradingView runs each trial on the real site: slow and paced "
                               "(one page, pauses, a cap per hour) to keep the account safe")
        self.proposer = QtWidgets.QComboBox()
        for label, value in (("Parameter search", "params"), ("LLM rewrites", "llm"),
                             ("Both", "both")):
            self.proposer.addItem(label, value)
        self.processes = QtWidgets.QSpinBox(minimum=1, maximum=64, value=config.processes)
        self.max_iterations = QtWidgets.QSpinBox(minimum=1, maximum=1_000_000, value=100)
        self.max_errors = QtWidgets.QSpinBox(minimum=1, maximum=10_000, value=10)
        self.max_duplicates = QtWidgets.QSpinBox(minimum=1, maximum=10_000, value=5)
        self.seed = QtWidgets.QSpinBox(minimum=0, maximum=2**31 - 1, value=42)

        self.save_profile_button = QtWidgets.QPushButton("Save as profile…")
        self.save_profile_button.setToolTip("Keep these fields as a named profile in the "
                                            "settings file")
        self.save_profile_button.clicked.connect(self._ask_profile_name)
        profile_row = QtWidgets.QWidget()
        row = QtWidgets.QHBoxLayout(profile_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.profile, 1)
        row.addWidget(self.save_profile_button)
        strategy_box = self._group("Strategy", [
            ("Profile", profile_row), ("Pine file", self.script), ("Code", self.code),
            ("Inputs", self.inputs)])
        data_box = self._group("Data and symbol", [
            ("Data file", self.data), ("Other symbols", self.security),
            ("Bar magnifier", self.magnifier), ("Symbol", self.symbol),
            ("Timezone", self.timezone), ("Session", self.session),
            ("Tick size", self.mintick), ("Point value", self.pointvalue),
            ("From", self.date_from), ("To", self.date_to), ("Holdout", self.holdout)])
        run_box = self._group("Search", [
            ("Conditions", self.conditions), ("Condition input", self.condition_input),
            ("Engine", self.engine), ("Proposer", self.proposer),
            ("Workers", self.processes), ("Max iterations", self.max_iterations),
            ("Max consecutive errors", self.max_errors),
            ("Max consecutive duplicates", self.max_duplicates), ("Seed", self.seed)])
        target_box = self._group("Targets", [
            ("Min trades", self.min_trades), ("Max drawdown %", self.max_drawdown),
            ("Min profit factor", self.min_profit_factor), ("Other", self.constraints)])
        self.error = QtWidgets.QLabel()
        self.error.setWordWrap(True)
        self.error.setObjectName("formError")
        self.error.setStyleSheet("color: #c62828;")
        self.error.hide()
        for box in (strategy_box, data_box, target_box, run_box):
            outer.addWidget(box)
        outer.addWidget(self.error)
        outer.addStretch(1)
        self._field_for_flag: dict[str, QtWidgets.QWidget] = {
            "--script": self.script.edit, "--data": self.data.edit, "--symbol": self.symbol,
            "--security": self.security, "--magnifier-data": self.magnifier.edit,
            "--session": self.session,
            "--timezone": self.timezone, "--mintick": self.mintick,
            "--pointvalue": self.pointvalue, "--from": self.date_from, "--to": self.date_to,
            "--holdout": self.holdout, "--conditions": self.conditions,
            "--condition-input": self.condition_input, "--target": self.constraints,
            "--input": self.inputs, "search ranges": self.inputs,
        }

    # ------------------------------------------------------------------ building

    def _group(self, title: str, rows: list[tuple[str, QtWidgets.QWidget]]
               ) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox(title)
        form = QtWidgets.QFormLayout(box)
        form.setFieldGrowthPolicy(
            QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for label, widget in rows:
            form.addRow(label, widget)
        return box

    def _path_field(self, filter_text: str) -> _PathField:
        holder = _PathField()
        edit = holder.edit

        def browse() -> None:
            path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Choose a file",
                                                            edit.text(), filter_text)
            if path:
                edit.setText(path)
                edit.editingFinished.emit()

        holder.button.clicked.connect(browse)
        return holder

    # ------------------------------------------------------------------ loading

    def set_paths(self, script: str | Path, data: str | Path) -> None:
        self.script.edit.setText(str(script))
        self.data.edit.setText(str(data))
        self._load_script()

    def _apply_profile(self, name: str) -> None:
        profile = self.config.profiles.get(name)
        if profile is None:
            return
        if profile.script:
            self.script.edit.setText(str(profile.script))
        if profile.data:
            self.data.edit.setText(str(profile.data))
        self.security.setText(", ".join(f"{symbol}={path}"
                                        for symbol, path in profile.security.items()))
        self.magnifier.edit.setText(str(profile.magnifier_data or ""))
        for edit, value in ((self.symbol, profile.symbol), (self.timezone, profile.timezone),
                            (self.session, profile.session),
                            (self.conditions, profile.conditions),
                            (self.date_from, profile.date_from),
                            (self.date_to, profile.date_to)):
            edit.setText("" if value is None else str(value))
        self.mintick.setText("" if profile.mintick is None else f"{profile.mintick:g}")
        self.pointvalue.setText("" if profile.pointvalue is None else f"{profile.pointvalue:g}")
        self.condition_input.setText(profile.condition_input)
        self._load_script()

    def _ask_profile_name(self) -> None:
        name, ok = QtWidgets.QInputDialog.getText(self, "Save profile", "Profile name:",
                                                  text=self.profile.currentText()
                                                  if self.profile.currentIndex() > 0 else "")
        if ok and name.strip():
            self.save_profile(name.strip())

    def save_profile(self, name: str) -> bool:
        """Write the form as profile `name` into the settings file; False (shown) on error."""
        from dataclasses import replace as dc_replace

        from tvdesk.app.requests import parse_security_flag, parse_when
        from tvdesk.config import Profile, save_settings
        from tvdesk.optimize.targets import SHORTHANDS

        try:
            form = self.run_form()
            options = form.options
            tz = options.timezone or self.config.timezone
            date_from = parse_when(options.date_from, tz, "--from", end_of_day=False)
            date_to = parse_when(options.date_to, tz, "--to", end_of_day=False)
            targets = {key: value for key in SHORTHANDS
                       if (value := getattr(form, key, None)) is not None}
            profile = Profile(
                name=name, script=Path(options.script) if options.script else None,
                data=Path(options.data) if options.data else None, symbol=options.symbol,
                timezone=options.timezone, session=options.session, mintick=options.mintick,
                pointvalue=options.pointvalue,
                date_from=date_from.date() if date_from else None,
                date_to=date_to.date() if date_to else None, conditions=form.conditions,
                condition_input=form.condition_input or "Condition", targets=targets,
                security={symbol: Path(path) for symbol, path in
                          (parse_security_flag(flag) for flag in options.security)},
                magnifier_data=Path(options.magnifier_data) if options.magnifier_data
                else None)
            settings = dc_replace(self.config, profiles={**self.config.profiles,
                                                         name: profile})
            path = save_settings(settings)
        except TvdeskError as exc:
            self.show_error(exc)
            return False
        from tvdesk.config import load_settings

        self.config = load_settings(path)
        if self.profile.findText(name) < 0:
            self.profile.addItem(name)
        self.profile.blockSignals(True)
        self.profile.setCurrentText(name)
        self.profile.blockSignals(False)
        self.clear_error()
        return True

    def _load_script(self) -> None:
        path = self.script.edit.text().strip()
        if not path:
            return
        try:
            strategy = load_strategy(path)
        except TvdeskError as exc:
            self.show_error(exc)
            return
        self.clear_error()
        self.strategy = strategy
        self.code.setPlainText(strategy.source)
        self._fill_inputs(strategy)
        self.strategy_loaded.emit(strategy)

    def _fill_inputs(self, strategy: Strategy) -> None:
        dims = {d.title: d for d in build_space(
            strategy, condition_input=self.condition_input.text() or None).dimensions}
        self.inputs.setRowCount(0)
        for spec in strategy.inputs:
            if not spec.overridable:
                continue
            row = self.inputs.rowCount()
            self.inputs.insertRow(row)
            include = QtWidgets.QTableWidgetItem()
            searchable = spec.title in dims and dims[spec.title].kind != "choice"
            include.setFlags(_check_flags(checkable=spec.title in dims))
            include.setCheckState(QtCore.Qt.CheckState.Checked if spec.title in dims
                                  else QtCore.Qt.CheckState.Unchecked)
            self.inputs.setItem(row, 0, include)
            self.inputs.setItem(row, 1, _item(spec.title, editable=False))
            self.inputs.setItem(row, 2, _item("" if spec.default is None else str(spec.default),
                                              editable=False))
            dim = dims.get(spec.title)
            for col, value in ((3, dim.low if dim else None), (4, dim.high if dim else None),
                               (5, dim.step if dim else None)):
                self.inputs.setItem(row, col, _item("" if value is None else f"{value:g}",
                                                    editable=searchable))
        self.inputs.resizeColumnsToContents()

    # ------------------------------------------------------------------ reading

    def run_form(self) -> RunForm:
        def text(edit: QtWidgets.QLineEdit) -> str | None:
            return edit.text().strip() or None

        def number(edit: QtWidgets.QLineEdit, flag: str) -> float | None:
            raw = edit.text().strip()
            if not raw:
                return None
            try:
                return float(raw)
            except ValueError:
                raise InputError(f"expected a number, got {raw!r}", source=flag) from None

        ranges, excluded = self._ranges()
        options = RunOptions(
            script=text(self.script.edit), data=text(self.data.edit), symbol=text(self.symbol),
            timezone=text(self.timezone), mintick=number(self.mintick, "--mintick"),
            pointvalue=number(self.pointvalue, "--pointvalue"),
            date_from=text(self.date_from), date_to=text(self.date_to),
            security=tuple(part.strip() for part in self.security.text().split(",")
                           if part.strip()),
            magnifier_data=text(self.magnifier.edit), session=text(self.session))
        return RunForm(
            options=options, engine=self.engine.currentData(),
            proposer=self.proposer.currentData(), seed=self.seed.value(),
            process_count=self.processes.value(), conditions=text(self.conditions),
            condition_input=text(self.condition_input), holdout=f"{self.holdout.value()}%",
            min_trades=self.min_trades.number(), max_drawdown=self.max_drawdown.number(),
            min_profit_factor=self.min_profit_factor.number(),
            targets=[t.strip() for t in self.constraints.text().split(",") if t.strip()],
            max_iterations=self.max_iterations.value(),
            max_consecutive_errors=self.max_errors.value(),
            max_duplicate_consecutive_errors=self.max_duplicates.value(),
            search_ranges=ranges, exclude_inputs=excluded)

    def _ranges(self) -> tuple[dict[str, dict[str, float]], tuple[str, ...]]:
        ranges: dict[str, dict[str, float]] = {}
        excluded: list[str] = []
        for row in range(self.inputs.rowCount()):
            title = self._cell(row, 1).text()
            include = self._cell(row, 0)
            if include.flags() & QtCore.Qt.ItemFlag.ItemIsUserCheckable and \
                    include.checkState() != QtCore.Qt.CheckState.Checked:
                excluded.append(title)
                continue
            values: dict[str, float] = {}
            for col, key in ((3, "min"), (4, "max"), (5, "step")):
                cell = self._cell(row, col)
                raw = cell.text().strip()
                if raw and cell.flags() & QtCore.Qt.ItemFlag.ItemIsEditable:
                    try:
                        values[key] = float(raw)
                    except ValueError:
                        raise InputError(f"input {title!r}: {key} must be a number, got "
                                         f"{raw!r}", source="search ranges") from None
            if values:
                ranges[title] = values
        return ranges, tuple(excluded)

    def _cell(self, row: int, column: int) -> QtWidgets.QTableWidgetItem:
        item = self.inputs.item(row, column)
        assert item is not None, "_fill_inputs sets every cell of a row"
        return item

    def build_settings(self) -> OptimizeSettings | None:
        """Checked settings, or None with the error shown inline next to its field."""
        try:
            settings = settings_from_form(self.run_form(), self.config)
        except TvdeskError as exc:
            self.show_error(exc)
            return None
        self.clear_error()
        return settings

    # ------------------------------------------------------------------ errors

    def show_error(self, exc: TvdeskError) -> None:
        self.clear_error()
        self.error.setText(str(exc))
        self.error.show()
        widget = self._field_for_flag.get(getattr(exc, "source", "") or "")
        if widget is None and isinstance(exc, InputError) and exc.source:
            if exc.source.endswith(".pine"):
                widget = self.script.edit
            elif exc.source.endswith(".csv"):
                widget = self.data.edit
        if widget is not None:
            widget.setStyleSheet("border: 1px solid #c62828;")
            widget.setToolTip(str(exc))
            self.ensureWidgetVisible(widget)
        self._invalid = widget

    def clear_error(self) -> None:
        self.error.hide()
        self.error.clear()
        widget = getattr(self, "_invalid", None)
        if widget is not None:
            widget.setStyleSheet("")
            widget.setToolTip("")
        self._invalid = None

    def error_field(self) -> QtWidgets.QWidget | None:
        return getattr(self, "_invalid", None)


def _item(text: str, *, editable: bool) -> QtWidgets.QTableWidgetItem:
    item = QtWidgets.QTableWidgetItem(text)
    flags = QtCore.Qt.ItemFlag.ItemIsEnabled | QtCore.Qt.ItemFlag.ItemIsSelectable
    if editable:
        flags |= QtCore.Qt.ItemFlag.ItemIsEditable
    item.setFlags(flags)
    return item


def _check_flags(*, checkable: bool) -> QtCore.Qt.ItemFlag:
    flags = QtCore.Qt.ItemFlag.ItemIsEnabled | QtCore.Qt.ItemFlag.ItemIsSelectable
    if checkable:
        flags |= QtCore.Qt.ItemFlag.ItemIsUserCheckable
    return flags
