"""Preloaded into a test `dask worker` (--preload): the worker claims another tvdesk
version, as a machine with an older install would."""

import tvdesk

tvdesk.__version__ = "0.0.1-elsewhere"
