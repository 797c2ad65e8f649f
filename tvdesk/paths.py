"""Where tvdesk keeps its files: the platform's user folders, never next to the program.

platformdirs gives the right place on Linux (XDG variables honoured), macOS and Windows.
`TVDESK_HOME` moves everything under one folder, which tests and portable installs use.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "tvdesk"


def _home_override() -> Path | None:
    home = os.environ.get("TVDESK_HOME")
    return Path(home) if home else None


def config_dir() -> Path:
    home = _home_override()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME))


def data_dir() -> Path:
    home = _home_override()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME))


def cache_dir() -> Path:
    home = _home_override()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME))


def log_dir() -> Path:
    home = _home_override()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME))


def default_config_file() -> Path:
    return config_dir() / "config.toml"


def project_root() -> Path:
    """The source tree or the frozen bundle: where `resources/` and `pine/` are shipped."""
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return project_root() / "resources"


def examples_dir() -> Path:
    return project_root() / "pine" / "examples"
