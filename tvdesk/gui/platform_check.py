"""Before Qt starts on Linux/X11: are the system libraries its xcb platform plugin needs here?

Without, say, libxcb-icccm4, Qt aborts with "could not load the Qt platform plugin "xcb"" and
no word of what is missing. `missing_xcb_libraries` finds out first: `ldd` on PySide6's
libqxcb.so ("=> not found" lines, the plugin's whole dependency tree) when ldd and the plugin
are there, else trying to load each library Qt's xcb plugin links to. `xcb_problem` turns the
answer into a message naming the Debian/Ubuntu and Fedora packages, and the alternatives
(Wayland, offscreen). `TVDESK_SKIP_QT_CHECK=1` skips the check.

Nothing here imports Qt: it runs before Qt is loaded, and its parsing is tested with sample
ldd output.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

# soname -> (Debian/Ubuntu package, Fedora package)
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libSM.so.6": ("libsm6", "libSM"),
    "libICE.so.6": ("libice6", "libICE"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2"),
}

# What the fallback (no ldd, or no plugin file to run it on) tries to load: the libraries
# Qt 6's xcb plugin links to that desktop installs most often lack.
XCB_LIBRARIES: tuple[str, ...] = (
    "libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-image.so.0",
    "libxcb-render-util.so.0", "libxcb-util.so.1", "libxcb-xkb.so.1", "libxkbcommon-x11.so.0",
    "libxkbcommon.so.0", "libxcb-shape.so.0", "libxcb-randr.so.0", "libxcb-xfixes.so.0",
    "libxcb-shm.so.0", "libxcb-sync.so.1", "libxcb-render.so.0", "libxcb.so.1",
    "libX11-xcb.so.1", "libX11.so.6", "libfontconfig.so.1", "libfreetype.so.6",
)

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$")


def parse_ldd(output: str) -> list[str]:
    """The sonames ldd reports as "not found", once each, in the order they appear."""
    missing: list[str] = []
    for line in output.splitlines():
        match = _NOT_FOUND.match(line)
        if match and match.group(1) not in missing:
            missing.append(match.group(1))
    return missing


def xcb_plugin_path() -> Path | None:
    """PySide6's xcb platform plugin (without importing PySide6), or None."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        plugin = Path(location) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def _run_ldd(ldd: str, plugin: Path) -> str | None:
    try:
        done = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=20,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.stdout.strip() else None


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_xcb_libraries(*, ldd_output: str | None = None,
                          loads: Callable[[str], bool] | None = None,
                          use_ldd: bool = True) -> list[str]:
    """The sonames Qt's xcb plugin needs that this system cannot load.

    `ldd_output` injects ldd's answer (tests); otherwise ldd runs on the plugin when both are
    there, and `loads` (default: ctypes.CDLL) tries XCB_LIBRARIES when they are not.
    """
    if ldd_output is None and use_ldd:
        ldd, plugin = shutil.which("ldd"), xcb_plugin_path()
        if ldd and plugin:
            ldd_output = _run_ldd(ldd, plugin)
    if ldd_output is not None:
        return parse_ldd(ldd_output)
    try_load = loads or _loads
    return [soname for soname in XCB_LIBRARIES if not try_load(soname)]


def install_message(missing: Iterable[str]) -> str:
    """What is missing, the packages to install (Debian/Ubuntu, Fedora), and the ways around."""
    missing = list(missing)
    debian: list[str] = []
    fedora: list[str] = []
    unknown: list[str] = []
    for soname in missing:
        packages = PACKAGES.get(soname)
        if packages is None:
            unknown.append(soname)
            continue
        if packages[0] not in debian:
            debian.append(packages[0])
        if packages[1] not in fedora:
            fedora.append(packages[1])
    lines = ["tvdesk gui: Qt's X11 (xcb) platform plugin cannot start: these system libraries "
             f"are missing: {', '.join(missing)}."]
    if debian:
        lines += ["Install them:",
                  f"  Debian/Ubuntu: sudo apt install {' '.join(debian)}",
                  f"  Fedora:        sudo dnf install {' '.join(fedora)}"]
    if unknown:
        lines.append(f"Find the package that has {', '.join(unknown)}: `apt-file search NAME` "
                     "(Debian/Ubuntu) or `dnf provides '*/NAME'` (Fedora).")
    lines += ["Or run without X11: QT_QPA_PLATFORM=wayland tvdesk gui (on a Wayland session), "
              "or QT_QPA_PLATFORM=offscreen tvdesk gui --demo --quit-after-run --screenshot "
              "shot.png (no window: for checks). TVDESK_SKIP_QT_CHECK=1 skips this check."]
    return "\n".join(lines)


def xcb_check_applies(environ: Mapping[str, str] | None = None,
                      platform: str | None = None) -> bool:
    """Will Qt use its xcb plugin? Linux, an X display, and QT_QPA_PLATFORM unset or xcb
    (unset on a Wayland session: Qt picks its Wayland plugin, so xcb libraries do not matter)."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux") or env.get("TVDESK_SKIP_QT_CHECK") == "1":
        return False
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        first = chosen.split(";")[0].split(":")[0].strip()
        return first == "xcb"
    wayland_session = (env.get("XDG_SESSION_TYPE") == "wayland"
                       and bool(env.get("WAYLAND_DISPLAY")))
    return bool(env.get("DISPLAY")) and not wayland_session


def xcb_problem(environ: Mapping[str, str] | None = None, platform: str | None = None,
                **probe) -> str | None:
    """The message to print instead of letting Qt abort, or None when all is well (or the
    check does not apply). `probe` goes to `missing_xcb_libraries` (tests inject ldd output)."""
    if not xcb_check_applies(environ, platform):
        return None
    missing = missing_xcb_libraries(**probe)
    return install_message(missing) if missing else None
