"""Build the tvdesk desktop app with PyInstaller: `python packaging/build.py`.

Produces dist/tvdesk/ (one folder, executable `tvdesk` / `tvdesk.exe`), smoke-tests it
(`--version`, `--self-test`), prints the build time and the folder size, and on Linux packs
dist/tvdesk-<version>-linux-x86_64.tar.gz with the folder, a .desktop file and install.sh.
Run it from the project's virtual environment with PyInstaller installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPEC = HERE / "tvdesk.spec"


@dataclasses.dataclass
class BuildResult:
    app_dir: Path          # dist/tvdesk
    executable: Path       # dist/tvdesk/tvdesk(.exe)
    seconds: float         # PyInstaller's wall time
    size_mb: float         # the folder's size on disk
    tarball: Path | None = None


def version() -> str:
    text = (ROOT / "tvdesk" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.M)
    if not match:
        raise SystemExit("build: no __version__ in tvdesk/__init__.py")
    return match.group(1)


def folder_size_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6


def executable_in(app_dir: Path) -> Path:
    return app_dir / ("tvdesk.exe" if sys.platform == "win32" else "tvdesk")


def build(dist_dir: Path | str = ROOT / "dist", work_dir: Path | str | None = None, *,
          tarball: bool | None = None, smoke: bool = True, quiet: bool = False) -> BuildResult:
    """Run PyInstaller on packaging/tvdesk.spec into `dist_dir`/tvdesk; return what it made."""
    dist_dir = Path(dist_dir).resolve()
    work_dir = Path(work_dir).resolve() if work_dir else ROOT / "build" / "pyinstaller"
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
           "--distpath", str(dist_dir), "--workpath", str(work_dir), str(SPEC)]
    if quiet:
        cmd[3:3] = ["--log-level", "WARN"]
    print("build:", " ".join(cmd), flush=True)
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    seconds = time.perf_counter() - started
    app_dir = dist_dir / "tvdesk"
    result = BuildResult(app_dir, executable_in(app_dir), seconds, folder_size_mb(app_dir))
    if smoke:
        smoke_test(result.executable)
    if tarball is None:
        tarball = sys.platform.startswith("linux")
    if tarball:
        result.tarball = make_tarball(app_dir, dist_dir)
    return result


def smoke_test(exe: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    for args, expect in ((["--version"], "Powered by PyneSys"),
                         (["--self-test"], "self-test passed")):
        proc = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                              timeout=600)
        out = proc.stdout + proc.stderr
        print(f"smoke: tvdesk {' '.join(args)} -> exit {proc.returncode}")
        print("  " + out.strip().replace("\n", "\n  "))
        if proc.returncode != 0 or expect not in out:
            raise SystemExit(f"build: smoke test `tvdesk {' '.join(args)}` failed")


def make_tarball(app_dir: Path, dist_dir: Path) -> Path:
    machine = platform.machine().lower() or "x86_64"
    out = dist_dir / f"tvdesk-{version()}-linux-{machine}.tar.gz"
    top = f"tvdesk-{version()}"
    with tarfile.open(out, "w:gz") as tar:
        tar.add(app_dir, arcname=f"{top}/tvdesk")
        tar.add(HERE / "linux" / "tvdesk.desktop", arcname=f"{top}/tvdesk.desktop")
        tar.add(HERE / "linux" / "install.sh", arcname=f"{top}/install.sh")
        tar.add(ROOT / "resources" / "icon.png", arcname=f"{top}/tvdesk.png")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", default=str(ROOT / "dist"), help="output folder (dist/)")
    parser.add_argument("--work", default=None, help="PyInstaller's work folder")
    parser.add_argument("--no-tarball", action="store_true", help="skip the Linux .tar.gz")
    parser.add_argument("--no-smoke", action="store_true", help="skip --version/--self-test")
    args = parser.parse_args(argv)
    if shutil.which("pyinstaller") is None and not _has_pyinstaller():
        print("build: PyInstaller is not installed (pip install pyinstaller)", file=sys.stderr)
        return 2
    result = build(args.dist, args.work, tarball=False if args.no_tarball else None,
                   smoke=not args.no_smoke)
    print(f"\nbuilt {result.app_dir}")
    print(f"build time: {result.seconds / 60:.1f} min ({result.seconds:.0f} s)")
    print(f"folder size: {result.size_mb:.0f} MB")
    if result.tarball:
        print(f"tarball: {result.tarball} ({result.tarball.stat().st_size / 1e6:.0f} MB)")
    return 0


def _has_pyinstaller() -> bool:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
