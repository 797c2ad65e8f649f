"""The check before Qt starts on Linux/X11: ldd's "not found" lines, the packages they map
to, and when the check applies. No Qt is imported (the check runs before Qt exists)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tvdesk.gui import platform_check
from tvdesk.gui.platform_check import (
    PACKAGES,
    XCB_LIBRARIES,
    install_message,
    missing_xcb_libraries,
    parse_ldd,
    xcb_check_applies,
    xcb_problem,
)

# ldd on PySide6 6.11's libqxcb.so on a machine without libxcb-icccm4 and libxcb-keysyms1
# (trimmed): the missing ones appear twice, once per library that needs them.
LDD_MISSING = """\
\tlinux-vdso.so.1 (0x00007f8da21a5000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x1)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f8da2046000)
\tlibxkbcommon-x11.so.0 => /lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 (0x00007f8da1ff3000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f8da1fec000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f8da1fe4000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-randr.so.0 => /lib/x86_64-linux-gnu/libxcb-randr.so.0 (0x00007f8da1fcb000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f8da021e000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-cursor.so.0 => not found
\tlibweird-thing.so.7 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f8da21a7000)
"""

LDD_ALL_FOUND = """\
\tlinux-vdso.so.1 (0x00007ffc1d1f2000)
\tlibxcb-icccm.so.4 => /lib/x86_64-linux-gnu/libxcb-icccm.so.4 (0x00007f0c1c9e5000)
\tlibxcb-keysyms.so.1 => /lib/x86_64-linux-gnu/libxcb-keysyms.so.1 (0x00007f0c1c9e0000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f0c1ca1d000)
"""

X11 = {"DISPLAY": ":0"}


def test_parse_ldd_lists_each_missing_library_once_in_order() -> None:
    assert parse_ldd(LDD_MISSING) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1",
                                      "libxcb-cursor.so.0", "libweird-thing.so.7"]
    assert parse_ldd(LDD_ALL_FOUND) == []
    assert parse_ldd("") == []


def test_the_message_names_the_packages_per_distribution_and_the_alternatives() -> None:
    message = install_message(["libxcb-icccm.so.4", "libxcb-keysyms.so.1",
                               "libxcb-cursor.so.0", "libweird-thing.so.7"])
    lines = message.splitlines()
    assert "missing: libxcb-icccm.so.4, libxcb-keysyms.so.1, libxcb-cursor.so.0, " \
        "libweird-thing.so.7" in lines[0]
    assert "  Debian/Ubuntu: sudo apt install libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0" \
        in lines
    assert "  Fedora:        sudo dnf install xcb-util-wm xcb-util-keysyms xcb-util-cursor" \
        in lines
    assert "libweird-thing.so.7: `apt-file search NAME`" in message  # no guess for the unknown
    assert "QT_QPA_PLATFORM=offscreen" in message and "QT_QPA_PLATFORM=wayland" in message


def test_packages_shared_by_several_libraries_are_named_once() -> None:
    message = install_message(["libxcb-shape.so.0", "libxcb-randr.so.0"])
    assert "sudo apt install libxcb-shape0 libxcb-randr0\n" in message
    assert message.count("sudo dnf install libxcb\n") == 1


def test_every_fallback_library_has_packages() -> None:
    assert set(XCB_LIBRARIES) <= set(PACKAGES)
    for soname in ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1",
                   "libxcb-image.so.0", "libxcb-render-util.so.0", "libxcb-xkb.so.1",
                   "libxkbcommon-x11.so.0", "libxcb-shape.so.0", "libxcb-randr.so.0",
                   "libxcb-xinerama.so.0"):
        assert soname in PACKAGES
    assert PACKAGES["libxcb-cursor.so.0"] == ("libxcb-cursor0", "xcb-util-cursor")


def test_injected_ldd_output_decides_and_the_loader_is_the_fallback() -> None:
    assert missing_xcb_libraries(ldd_output=LDD_MISSING)[:2] == ["libxcb-icccm.so.4",
                                                                 "libxcb-keysyms.so.1"]
    assert missing_xcb_libraries(ldd_output=LDD_ALL_FOUND) == []
    tried: list[str] = []

    def loads(soname: str) -> bool:
        tried.append(soname)
        return soname != "libxcb-icccm.so.4"

    assert missing_xcb_libraries(use_ldd=False, loads=loads) == ["libxcb-icccm.so.4"]
    assert tried == list(XCB_LIBRARIES)


def test_when_the_check_applies() -> None:
    assert xcb_check_applies(X11, "linux")
    assert xcb_check_applies({**X11, "QT_QPA_PLATFORM": "xcb"}, "linux")
    assert xcb_check_applies({"WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"},
                             "linux")
    assert not xcb_check_applies(X11, "darwin")
    assert not xcb_check_applies(X11, "win32")
    assert not xcb_check_applies({}, "linux")  # no display: run_gui says so itself
    assert not xcb_check_applies({**X11, "QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not xcb_check_applies({**X11, "QT_QPA_PLATFORM": "wayland;xcb"}, "linux")
    # unset on a Wayland session: Qt uses its Wayland plugin
    assert not xcb_check_applies({**X11, "WAYLAND_DISPLAY": "wayland-0",
                                  "XDG_SESSION_TYPE": "wayland"}, "linux")
    assert not xcb_check_applies({**X11, "TVDESK_SKIP_QT_CHECK": "1"}, "linux")


def test_xcb_problem_is_the_message_or_none() -> None:
    problem = xcb_problem(X11, "linux", ldd_output=LDD_MISSING)
    assert problem is not None and "sudo apt install libxcb-icccm4 libxcb-keysyms1" in problem
    assert xcb_problem(X11, "linux", ldd_output=LDD_ALL_FOUND) is None
    assert xcb_problem({**X11, "QT_QPA_PLATFORM": "offscreen"}, "linux",
                       ldd_output=LDD_MISSING) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ldd and xcb: Linux only")
def test_on_this_machine_ldd_and_the_loader_agree() -> None:
    """The two probes, on the real PySide6 plugin: whatever this machine lacks, both see it."""
    plugin = platform_check.xcb_plugin_path()
    if plugin is None:
        pytest.skip("PySide6 has no xcb plugin here")
    by_ldd = missing_xcb_libraries()
    by_loader = missing_xcb_libraries(use_ldd=False)
    # every library of the fallback's list that ldd finds missing, the fallback finds missing
    assert {s for s in by_ldd if s in XCB_LIBRARIES} <= set(by_loader)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_tvdesk_gui_exits_with_the_message_instead_of_qt_aborting(tmp_path) -> None:
    """`tvdesk gui` with an X display but a missing xcb library (faked by a PATH `ldd`)."""
    fake = tmp_path / "ldd"
    fake.write_text("#!/bin/sh\nprintf '\\tlibxcb-icccm.so.4 => not found\\n'\n")
    fake.chmod(0o755)
    if platform_check.xcb_plugin_path() is None:
        pytest.skip("PySide6 has no xcb plugin here")
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "DISPLAY": ":99", "TVDESK_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "tvdesk", "gui"], capture_output=True,
                         text=True, env=env, timeout=120)
    assert run.returncode == 1
    assert "sudo apt install libxcb-icccm4" in run.stderr
    assert "could not load the Qt platform plugin" not in run.stderr
