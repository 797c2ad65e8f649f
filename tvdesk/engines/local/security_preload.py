"""Imported once by the forkserver that starts PyneCore's request.security child processes.

Each `request.security` context runs in a child process forked from a forkserver; PyneCore
preloads only its child entry module there, so every child imported the rest of PyneCore's
library again (the broker, `ta`, the runner: about 0.8 s per context per backtest, measured
with strace). Importing them here, once per worker, makes a child start in milliseconds.
A child still imported about 50 modules itself (listed from `sys.modules` before and after a
child's run): PyneCore's script transformers, which it needs to import the script (when no
bytecode of it is kept), and its run profiler; 25-70 ms per child and run on a loaded
2-core machine, while the chart waited for the child's first bar. They are preloaded too
(`TRANSFORMER_PACKAGE`, `CHILD_MODULES`); no transform runs here, so a child starts with the
same, empty, transformer state as before.

A child also ran the chart's main module again before its own start (multiprocessing
re-runs it in every child as `__mp_main__`, so that objects defined there can be unpickled;
6-11 ms per child: the benchmark's script, or the `tvdesk` command's). The server is meant
to run it once and hand it down (its `__main__` preload), but Python 3.11's forkserver never
receives the path (it asks for a `main_path` key the preparation data does not have), so it
is passed here (`MAIN_PATH_ENV`) and run exactly as the forkserver's own preload would:
a child whose `__main__` already is that file skips the re-run. If running it fails here,
every child runs it itself again, as before.
The quirk fixes are applied here too, so a security expression runs the same library as the
chart does, and so are the bookkeeping speedups (`security_speedups`), which change no value.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import pynecore.lib
from pynecore.core import script_runner, security_process  # noqa: F401  (preloading)

from tvdesk.engines.local import security_speedups
from tvdesk.engines.local.quirks import apply_all
from tvdesk.engines.local.security_feeds import MAIN_PATH_ENV

# Imported by every security child when it starts (`security_process` imports the profiler
# inside its entry function, the import hook the transformers), outside `pynecore.lib`.
TRANSFORMER_PACKAGE = "pynecore.transformers"
CHILD_MODULES = ("pynecore.core.profiler", "pynecore.core.bar_magnifier",
                 "pynecore.core.aggregator", "pynecore.utils.stdlib_checker", "symtable")


def _import_library() -> None:
    for package in ("pynecore.lib", "pynecore.lib.strategy", TRANSFORMER_PACKAGE):
        module = importlib.import_module(package)
        for info in pkgutil.iter_modules(module.__path__, f"{package}."):
            try:
                importlib.import_module(info.name)
            except Exception:  # an optional part may not import; a child needing it says so
                continue
    for name in CHILD_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # as above: the child imports it itself, and says why if it fails
            continue


def _import_main() -> None:
    from multiprocessing import process, spawn

    path = os.environ.get(MAIN_PATH_ENV)
    if not path or getattr(sys.modules.get("__main__"), "__file__", None) == path:
        return
    if not os.path.isfile(path):
        return
    current = process.current_process()
    current._inheriting = True  # type: ignore[attr-defined]  # as the forkserver's preload
    try:
        spawn.import_main_path(path)
    except BaseException:  # a child then runs it itself, as before
        pass
    finally:
        del current._inheriting  # type: ignore[attr-defined]


_import_library()
apply_all()
security_speedups.apply()
_import_main()  # last, as a child ran it: after the library, its fixes and the speedups
assert pynecore.lib  # the package itself is what children need first
