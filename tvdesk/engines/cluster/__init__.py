"""Backtests on a Dask distributed cluster (`tvdesk optimize --cluster ADDRESS`)."""

from tvdesk.engines.cluster.engine import ClusterEngine, ClusterStatus

__all__ = ["ClusterEngine", "ClusterStatus"]
