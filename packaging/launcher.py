"""Entry script of the frozen app (PyInstaller): `tvdesk` with no arguments opens the GUI.

Any argument goes to the CLI, exactly as the installed `tvdesk` command would take it.
"""

import multiprocessing
import os
import sys


def _run() -> int:
    from tvdesk.cli import main

    argv = sys.argv[1:]
    if not argv:
        # No arguments: the workbench, when there is a display to show it on (on Linux
        # without DISPLAY/WAYLAND_DISPLAY, print the CLI help instead of a Qt abort).
        headless = sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
            or os.environ.get("QT_QPA_PLATFORM"))
        argv = ["--help"] if headless else ["gui"]
    return main(argv)


if __name__ == "__main__":
    # The optimiser's worker pool (forkserver on Linux, spawn elsewhere) re-enters this
    # executable; freeze_support() turns those starts into workers instead of a second app.
    multiprocessing.freeze_support()
    sys.exit(_run())
