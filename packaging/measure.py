"""Size of the frozen app and its start-up time to the first painted window.

    python packaging/measure.py [--app-dir dist/tvdesk] [--runs 3]

Start-up: `tvdesk gui --demo --screenshot FILE` offscreen (QT_QPA_PLATFORM=offscreen), timed
from launch until the screenshot file appears (the window has been built and painted);
median of the runs. A fresh TVDESK_HOME each run, so no settings or run store are reused.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def folder_size_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6


def startup_seconds(exe: Path, timeout: float = 120.0) -> float:
    with tempfile.TemporaryDirectory(prefix="tvdesk-measure-") as tmp:
        shot = Path(tmp) / "shot.png"
        env = dict(os.environ, TVDESK_HOME=str(Path(tmp) / "home"),
                   QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
        started = time.perf_counter()
        proc = subprocess.Popen([str(exe), "gui", "--demo", "--screenshot", str(shot)],
                                cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            while not (shot.exists() and shot.stat().st_size > 0):
                if proc.poll() is not None and not shot.exists():
                    raise SystemExit(f"measure: tvdesk exited {proc.returncode} without a "
                                     "screenshot")
                if time.perf_counter() - started > timeout:
                    raise SystemExit("measure: no screenshot within the timeout")
                time.sleep(0.02)
            elapsed = time.perf_counter() - started
        finally:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Size and start-up time of the frozen app.")
    parser.add_argument("--app-dir", default=str(ROOT / "dist" / "tvdesk"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    app_dir = Path(args.app_dir)
    exe = app_dir / ("tvdesk.exe" if sys.platform == "win32" else "tvdesk")
    if not exe.exists():
        print(f"measure: no {exe}; build first: python packaging/build.py", file=sys.stderr)
        return 2
    print(f"folder size: {folder_size_mb(app_dir):.0f} MB ({app_dir})")
    times = [startup_seconds(exe) for _ in range(args.runs)]
    print("start-up to first painted window: " + ", ".join(f"{t:.2f}" for t in times)
          + f" s; median {statistics.median(times):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
