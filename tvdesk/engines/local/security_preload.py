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
The quirk fixes are applied here too, so a security expression runs the same library as the
chart does, and so are the bookkeeping speedups (`security_speedups`), which change no value.
"""

from __future__ import annotations

import importlib
import pkgutil

import pynecore.lib
from pynecore.core import script_runner, security_process  # noqa: F401  (preloading)

from tvdesk.engines.local import security_speedups
from tvdesk.engines.local.quirks import apply_all

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


_import_library()
apply_all()
security_speedups.apply()
assert pynecore.lib  # the package itself is what children need first
