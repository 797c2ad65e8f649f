"""The embedded engine: Pine transpiled to PyneCore, run in warm worker processes."""

from tvdesk.engines.local.engine import LocalEngine

__all__ = ["LocalEngine"]
