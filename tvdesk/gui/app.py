"""Start the workbench: QApplication on a qasync event loop, and a clean shutdown.

The app's coroutines (runs, report writing) run on the same loop as Qt. Start-up and
shutdown are the fragile parts of PySide6 + qasync (timers outliving the app, tasks still
pending when the loop closes), so they are done in one order, always: build the app, the loop
and the window; run until the window quits; stop the run and await its shutdown on the still
open loop; then close the loop. Uncaught exceptions in coroutines or slots go to the log and to
a dialog, never to silence.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent.parent


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tvdesk gui", description="The tvdesk workbench.")
    parser.add_argument("--demo", action="store_true",
                        help="open with the bundled example strategy and data ready to run")
    parser.add_argument("--store", metavar="FILE", help="run store to open")
    parser.add_argument("--config", metavar="FILE", help="settings file (TOML)")
    parser.add_argument("--screenshot", metavar="FILE.png",
                        help="save a PNG of the window (after the run with --quit-after-run)")
    parser.add_argument("--quit-after-run", action="store_true",
                        help="with --demo: run the demo, then exit 0 (for checks and docs)")
    return parser.parse_args(list(argv))


def run_gui(argv: Sequence[str] = ()) -> int:
    args = _parse(argv)
    if args.quit_after_run and not args.demo:
        print("tvdesk gui: --quit-after-run needs --demo", file=sys.stderr)
        return 2
    if not gui_available() and not os.environ.get("QT_QPA_PLATFORM"):
        print("tvdesk gui: no display found (DISPLAY / WAYLAND_DISPLAY are not set); run it on "
              "a desktop, or set QT_QPA_PLATFORM=offscreen for --screenshot checks",
              file=sys.stderr)
        return 1
    try:
        import qasync

        from tvdesk.gui.qt import QtCore, QtWidgets
    except ImportError as exc:
        print(f"tvdesk gui: the desktop app needs PySide6, qasync and pyqtgraph "
              f"(pip install 'tvdesk[gui]'): {exc}", file=sys.stderr)
        return 1
    if QtWidgets.QApplication.instance() is None:
        # Qt aborts with a bare "could not load the Qt platform plugin" when a library of its
        # X11 plugin is missing: name the packages instead (tvdesk.gui.platform_check).
        from tvdesk.gui.platform_check import xcb_problem

        problem = xcb_problem()
        if problem:
            print(problem, file=sys.stderr)
            return 1
    from tvdesk.config import load_settings
    from tvdesk.errors import TvdeskError
    from tvdesk.logs import setup_logging

    setup_logging()
    from tvdesk.store import default_store_path

    try:
        config = load_settings(args.config)
    except TvdeskError as exc:
        print(f"tvdesk gui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    QtCore.QCoreApplication.setOrganizationName("tvdesk")
    QtCore.QCoreApplication.setApplicationName("tvdesk")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    assert isinstance(app, QtWidgets.QApplication)  # nothing here makes a bare QCoreApplication
    from tvdesk.gui.theme import apply_theme, saved_theme

    apply_theme(app, saved_theme())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    from tvdesk.gui.main_window import MainWindow

    store = Path(args.store) if args.store else default_store_path()
    window = MainWindow(config, store)
    loop.set_exception_handler(lambda _loop, context: _report(window, context))
    first_run = not QtCore.QSettings().contains("setup/script")
    if args.demo or first_run:
        window.setup.set_paths(ROOT / "pine" / "examples" / "sma_cross.pine",
                               ROOT / "resources" / "data" / "EURUSD_1h.csv")
        window.setup.mintick.setText("0.00001")
        window.setup.symbol.setText("FX:EURUSD")
        window.setup.max_iterations.setValue(40)
        window.setup.processes.setValue(2)
        window.statusBar().showMessage("The example strategy and EURUSD hourly data are "
                                       "loaded: press Run to optimise it offline")
    window.show()
    exit_code = 0
    with loop:
        done = asyncio.Event()
        app.aboutToQuit.connect(done.set)
        if args.quit_after_run or args.screenshot:
            task = loop.create_task(_scripted(window, args))
        try:
            loop.run_until_complete(done.wait())
        finally:
            loop.run_until_complete(window.controller.shutdown())
            if args.quit_after_run or args.screenshot:
                exit_code = 0 if task.done() and not task.cancelled() and \
                    task.exception() is None and task.result() else 1
    return exit_code


async def _scripted(window, args: argparse.Namespace) -> bool:
    """`--screenshot` / `--quit-after-run`: run the demo, save the window, quit."""
    from tvdesk.gui.qt import QtWidgets

    ok = True
    if args.quit_after_run:
        finished: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def finish(status: str) -> None:  # the first outcome wins
            if not finished.done():
                finished.set_result(status)

        window.controller.run_finished.connect(lambda _run, status: finish(status))
        window.controller.failed.connect(lambda message: finish(f"failed: {message}"))
        window.start_run()
        status = await finished
        ok = status == "finished"
        if not ok:
            print(f"tvdesk gui: demo run {status}", file=sys.stderr)
        window.tabs.setCurrentWidget(window.results)
        await asyncio.sleep(0.5)  # let views repaint with the final data
    else:
        await asyncio.sleep(0.5)
    if args.screenshot:
        window.grab().save(str(args.screenshot))
        print(f"screenshot saved to {args.screenshot}")
    app = QtWidgets.QApplication.instance()
    assert app is not None  # run_gui made it before the window
    app.quit()
    return ok


def _report(window, context: dict) -> None:
    exc = context.get("exception")
    message = context.get("message", "unexpected error")
    if exc is not None:
        log.error("uncaught exception in a coroutine: %s", message, exc_info=exc)
        message = f"{type(exc).__name__}: {exc}"
    else:
        log.error("%s", message)
    window.show_error(f"Unexpected error: {message}")


def gui_available() -> bool:
    """A display to open a window on (the README's main command opens the GUI then)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True
