"""What the progress displays say about a cluster: workers, busy threads, what waits."""

from __future__ import annotations

from tvdesk.engines.cluster import ClusterStatus


def test_busy_counts_threads_running_backtests_and_the_rest_wait() -> None:
    crowded = ClusterStatus("tcp://a:8786", workers=2, refused=1, threads=4, running=6,
                            per_minute=480.0)
    assert crowded.busy == 4
    assert crowded.describe() == ("cluster tcp://a:8786: 2 workers (4 threads), 1 refused, "
                                  "4 busy, 2 waiting, 480 trials/min")
    quiet = ClusterStatus("tcp://a:8786", workers=3, refused=0, threads=6, running=2,
                          per_minute=0.0)
    assert quiet.busy == 2
    assert quiet.describe() == "cluster tcp://a:8786: 3 workers (6 threads), 2 busy, 0 trials/min"
