"""Regenerate the README's screenshots of the workbench with real data.

    .venv/bin/python scripts/screenshots.py [OUT_DIR]   (default docs/screenshots)

Runs the demo optimisation in the real window (offscreen unless a display exists), saves the
Runs tab during the run, then the Results grid, the Surface, the Trial view of the best
trial and the Compare view of the three best once it has finished.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TVDESK_HOME", tempfile.mkdtemp(prefix="tvdesk-shots-"))

import qasync  # noqa: E402

from tvdesk.config import Settings  # noqa: E402
from tvdesk.gui.qt import QtCore, QtWidgets  # noqa: E402


async def capture(window, out: Path) -> None:
    finished = asyncio.get_running_loop().create_future()
    window.controller.run_finished.connect(
        lambda _r, status: finished.done() or finished.set_result(status))
    done: list[int] = []
    window.controller.event.connect(
        lambda e: done.append(1) if e.kind == "trial_finished" else None)
    window.start_run()
    while len(done) < 25 and not finished.done():
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.6)  # one chart refresh
    window.grab().save(str(out / "main_window_run.png"))
    await finished
    await asyncio.sleep(0.5)
    window.tabs.setCurrentWidget(window.results)
    await asyncio.sleep(0.3)
    window.grab().save(str(out / "results.png"))
    window.tabs.setCurrentWidget(window.surface)
    await asyncio.sleep(0.3)
    window.grab().save(str(out / "surface.png"))
    store = window.controller.store()
    best = max(store.trials(window.controller.run_id, segment="in_sample", status="done"),
               key=lambda t: t.metrics.get("net_profit_percent") or -1e9)
    window.open_trial(best.id)
    await asyncio.sleep(0.5)
    window.grab().save(str(out / "trial.png"))
    ranked = sorted(store.trials(window.controller.run_id, segment="in_sample", status="done"),
                    key=lambda t: t.metrics.get("net_profit_percent") or -1e9, reverse=True)
    window.compare_trials([t.id for t in ranked[:3]])
    await asyncio.sleep(0.5)
    window.grab().save(str(out / "compare.png"))


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    QtCore.QCoreApplication.setOrganizationName("tvdesk-screenshots")
    app = QtWidgets.QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    from tvdesk.gui.main_window import MainWindow

    window = MainWindow(Settings(), Path(os.environ["TVDESK_HOME"]) / "shots.db")
    window.resize(1500, 950)
    os.chdir(ROOT)  # relative paths in the form: the pictures show no machine's folders
    window.setup.set_paths(Path("pine") / "examples" / "multi_condition.pine",
                           Path("resources") / "data" / "EURUSD_1h.csv")
    window.setup.mintick.setText("0.00001")
    window.setup.symbol.setText("FX:EURUSD")
    window.setup.conditions.setText("1,3")
    window.setup.processes.setValue(2)
    window.setup.max_iterations.setValue(60)
    window.show()
    with loop:
        loop.run_until_complete(capture(window, out))
        loop.run_until_complete(window.controller.shutdown())
    print(f"screenshots in {out}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
