"""The window as a user drives it: the form, inline errors, a real run, stop and resume, and
the app's start and shutdown on the qasync loop (also as a real subprocess)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from tests.gui.conftest import EURUSD, EXAMPLE, wait_for
from tvdesk.config import Settings
from tvdesk.gui.main_window import MainWindow
from tvdesk.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def test_the_form_loads_the_script_and_its_inputs(window) -> None:
    form = window.setup
    assert "strategy(\"SMA Cross\"" in form.code.toPlainText()
    titles = [form.inputs.item(r, 1).text() for r in range(form.inputs.rowCount())]
    assert titles == ["Fast Length", "Slow Length", "Allow Shorts"]
    settings = form.build_settings()
    assert settings is not None
    assert settings.request.symbol.mintick == 0.00001 and settings.holdout == 0.2


@pytest.mark.parametrize(("field", "value", "message"), [
    ("mintick", "tiny", "expected a number, got 'tiny'"),
    ("date_from", "yesterday", "expected a date YYYY-MM-DD"),
    ("conditions", "a-b", "expected a condition list"),
    ("timezone", "Mars/Olympus", "unknown timezone 'Mars/Olympus'"),
])
def test_bad_input_is_shown_inline_next_to_its_field(window, field: str, value: str,
                                                     message: str) -> None:
    form = window.setup
    getattr(form, field).setText(value)
    assert form.build_settings() is None
    assert message in form.error.text()
    assert not form.error.isHidden()
    assert form.error_field() is getattr(form, field)
    getattr(form, field).setText("")
    assert form.build_settings() is not None
    assert form.error.isHidden()


def test_run_stop_and_resume_from_the_toolbar(window, loop, qtbot) -> None:
    """The whole scenario runs inside one `run_until_complete`: qasync's returns through a
    last `processEvents` with no running loop, so a run still going on across two calls
    would resume its tasks outside the loop ("no running event loop")."""
    window.setup.max_iterations.setValue(400)
    window.setup.holdout.setValue(0)
    seen: list[str] = []
    window.controller.event.connect(lambda e: seen.append(e.kind))

    async def scenario() -> None:
        started = next_emit(window.controller.run_started)
        window.run_action.trigger()
        assert window.stop_action.isEnabled() and not window.run_action.isEnabled()
        (run_id,) = await started
        await trials_seen(window, seen, 3)
        finished = next_emit(window.controller.run_finished)
        window.stop_action.trigger()
        _, status = await finished
        assert status == "stopped"
        assert window.run_action.isEnabled() and not window.stop_action.isEnabled()
        with RunStore.open(window.controller.store_path) as store:
            done_before = store.count_trials(run_id, status="done")
            assert done_before >= 3 and store.unfinished_trials(run_id) == []
            assert store.get_run(run_id).status == "stopped"
        seen.clear()
        finished = next_emit(window.controller.run_finished)
        window.resume_action.trigger()
        await trials_seen(window, seen, 2)
        window.controller.stop()
        await finished
        with RunStore.open(window.controller.store_path) as store:
            assert store.count_trials(run_id, status="done") >= done_before + 2
            keys = [t.params_key for t in store.trials(run_id, status="done")]
            assert len(keys) == len(set(keys)), "resume ran no parameter set twice"

    loop.run_until_complete(asyncio.wait_for(scenario(), 280))


def next_emit(signal) -> asyncio.Future:
    """A future for the signal's next emission (its arguments)."""
    future = asyncio.get_event_loop().create_future()

    def done(*args):
        if not future.done():
            future.set_result(args)

    signal.connect(done)
    return future


async def trials_seen(window: MainWindow, seen: list[str], count: int,
                      timeout: float = 180.0) -> None:
    """Wait for `count` finished trials; fail with what the run did instead (a run that ended
    or failed early, or one that stalled), never hang the suite."""
    deadline = asyncio.get_running_loop().time() + timeout
    while seen.count("trial_finished") < count:
        if not window.controller.running:
            pytest.fail(f"the run ended before {count} trials finished; events: {seen}")
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"no {count} finished trials in {timeout:.0f} s; events: {seen}, busy "
                        f"workers: {window.controller.busy_workers}")
        await asyncio.sleep(0.05)


def test_a_missing_data_file_is_refused_at_its_field_before_a_run(window) -> None:
    missing = Path(window.controller.store_path).parent / "no.csv"
    window.setup.data.edit.setText(str(missing))
    window.run_action.trigger()
    assert window.controller.run_id is None and not window.controller.running
    assert window.run_action.isEnabled() and not window.stop_action.isEnabled()
    assert window.setup.error_field() is window.setup.data.edit
    assert "no.csv" in window.setup.error.text()


def test_invalid_form_does_not_start_a_run(window) -> None:
    window.setup.mintick.setText("-1")
    window.run_action.trigger()
    assert not window.controller.running
    assert "expected a positive finite number" in window.setup.error.text()


def test_the_app_starts_runs_the_demo_and_shuts_down_cleanly(tmp_path: Path) -> None:
    shot = tmp_path / "window.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TVDESK_HOME": str(tmp_path / "h")}
    for _ in range(2):  # twice: start-up and shutdown are repeatable
        run = subprocess.run([sys.executable, "-m", "tvdesk", "gui", "--demo",
                              "--quit-after-run", "--screenshot", str(shot)],
                             capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
        assert run.returncode == 0, run.stderr
        assert "screenshot saved" in run.stdout
        assert "Traceback" not in run.stderr
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 20_000


def test_export_report_from_the_window_writes_every_format(window, loop,
                                                           tmp_path: Path) -> None:
    window.setup.max_iterations.setValue(4)
    window.run_action.trigger()
    _, status = wait_for(loop, window.controller.run_finished)
    assert status == "finished"
    opened: list[str] = []
    from tvdesk.gui.qt import QtGui

    original = QtGui.QDesktopServices.openUrl
    QtGui.QDesktopServices.openUrl = staticmethod(lambda url: opened.append(url.toLocalFile()))
    try:
        folder = tmp_path / "reports"
        loop.run_until_complete(window._write_reports(window.controller.run_id, folder))
    finally:
        QtGui.QDesktopServices.openUrl = original
    suffixes = sorted({p.suffix for p in folder.iterdir()})
    assert suffixes == [".csv", ".html", ".json", ".png", ".txt", ".xlsx"]
    assert opened == [str(folder)]
    assert "report files written" in window.statusBar().currentMessage()


def test_save_the_form_as_a_profile_and_open_it_again(window, tmp_path: Path) -> None:
    from tvdesk.config import load_settings

    config_file = tmp_path / "config.toml"
    config_file.write_text("timezone = \"UTC\"\n")
    window.setup.config = load_settings(config_file)
    window.setup.symbol.setText("FX:EURUSD")
    window.setup.date_from.setText("2017-06-01")
    window.setup.conditions.setText("")
    window.setup.max_drawdown.set_number(8.0)
    window.setup.security.setText(f"FX:GBPUSD={EURUSD}")
    window.setup.magnifier.edit.setText(str(EURUSD))
    window.setup.session.setText("1700-1700")
    window.setup.commission.setText("0.07")
    window.setup.initial_capital.setText("25000")
    assert window.setup.save_profile("eurusd")
    saved = load_settings(config_file).profile("eurusd")
    assert saved.script == EXAMPLE and saved.data == EURUSD
    assert saved.mintick == 0.00001 and str(saved.date_from) == "2017-06-01"
    assert saved.targets == {"max_drawdown": 8.0}
    assert saved.security == {"FX:GBPUSD": EURUSD} and saved.magnifier_data == EURUSD
    assert saved.session == "1700-1700"
    assert saved.properties == {"initial_capital": 25000.0, "commission_value": 0.07}
    # The form's run options carry them to the request like the flags do.
    options = window.setup.run_form().options
    assert options.security == (f"FX:GBPUSD={EURUSD}",)
    assert options.magnifier_data == str(EURUSD)
    # A fresh form picks it from the profile list.
    window.setup.symbol.setText("")
    window.setup.security.setText("")
    window.setup.profile.setCurrentText("")
    window.setup.commission.setText("")
    window.setup._apply_profile("eurusd")
    assert window.setup.symbol.text() == "FX:EURUSD"
    assert window.setup.security.text() == f"FX:GBPUSD={EURUSD}"
    assert window.setup.commission.text() == "0.07"  # the profile's, not the script's
    assert dict(window.setup.strategy_settings()) == saved.properties


def test_no_display_gets_a_clear_message_not_a_qt_abort(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["TVDESK_HOME"] = str(tmp_path)
    run = subprocess.run([sys.executable, "-m", "tvdesk", "gui"], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=120)
    assert run.returncode == 1
    assert "no display found" in run.stderr and "QT_QPA_PLATFORM=offscreen" in run.stderr


def test_the_runs_engines_get_the_settings_the_app_was_started_with(window) -> None:
    """The controller makes the engines (runs, TradingView re-runs) from the window's settings,
    the --config file's, and from the Settings dialog's once it saves."""
    assert window.controller.config is window.config
    saved = Settings(processes=3)
    window._settings_saved(saved)
    assert window.controller.config is saved
