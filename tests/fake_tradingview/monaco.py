"""Monaco's AMD build for the fake Pine Editor, fetched once with npm and cached.

`ensure_monaco()` returns a folder holding `vs/` (`vs/loader.js`, `vs/editor/editor.main.js`,
...). The package tarball comes from `npm pack` (npm's own client, its own registry settings);
only members under `package/min/vs/` are extracted, with tarfile's "data" filter. The folder is
built beside its final place and renamed into it, and a marker file is written last, so a
half-extracted folder is never used and two processes never write into the same one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

MONACO_VERSION = "0.52.2"
_PREFIX = "package/min/"
_MARKER = ".complete"


def cache_root() -> Path:
    configured = os.environ.get("TVDESK_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "tvdesk-tests"


def ensure_monaco() -> Path:
    """The folder that contains Monaco's `vs/`; downloads it on first use.

    Raises RuntimeError (with the reason) when npm is missing or the download fails.
    """
    target = cache_root() / f"monaco-{MONACO_VERSION}"
    if (target / _MARKER).is_file() and (target / "vs" / "loader.js").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: the fake Pine Editor needs Monaco "
                           f"(monaco-editor@{MONACO_VERSION}), which is fetched with npm")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".monaco-{os.getpid()}-", dir=target.parent))
    try:
        tarball = _pack(npm, work)
        staging = work / "staging"
        staging.mkdir()
        _extract(tarball, staging)
        if not (staging / "vs" / "loader.js").is_file():
            raise RuntimeError(f"monaco-editor@{MONACO_VERSION}: the package has no "
                               "min/vs/loader.js")
        (staging / _MARKER).write_text(MONACO_VERSION, "utf-8")
        _install(staging, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not (target / _MARKER).is_file():
        raise RuntimeError(f"could not put Monaco into {target}")
    return target


def _pack(npm: str, folder: Path) -> Path:
    try:
        done = subprocess.run(
            [npm, "pack", f"monaco-editor@{MONACO_VERSION}", "--pack-destination", str(folder),
             "--loglevel=error"],
            cwd=folder, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"npm pack monaco-editor@{MONACO_VERSION} failed: {exc}") from None
    tarballs = sorted(folder.glob("monaco-editor-*.tgz"))
    if done.returncode != 0 or not tarballs:
        detail = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()][:4]
        raise RuntimeError(f"npm pack monaco-editor@{MONACO_VERSION} failed "
                           f"(exit {done.returncode}): " + " | ".join(detail))
    return tarballs[0]


def _extract(tarball: Path, destination: Path) -> None:
    """Members under package/min/vs/, re-rooted so destination/vs/ is Monaco's vs/."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            members = []
            for member in archive.getmembers():
                if not member.name.startswith(_PREFIX + "vs/"):
                    continue
                if not (member.isfile() or member.isdir()):
                    continue
                member.name = member.name[len(_PREFIX):]
                members.append(member)
            archive.extractall(destination, members=members, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise RuntimeError(f"cannot unpack {tarball.name}: {exc}") from None


def _install(staging: Path, target: Path) -> None:
    """Rename the finished folder into place; a concurrent winner is kept as it is."""
    if (target / _MARKER).is_file():
        return
    if target.exists():  # an unfinished folder from an interrupted run: move it aside
        stale = target.with_name(f"{target.name}.stale-{os.getpid()}")
        try:
            target.rename(stale)
        except OSError:
            pass
        else:
            shutil.rmtree(stale, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:
        if not (target / _MARKER).is_file():  # lost a race but the winner is not done
            raise
