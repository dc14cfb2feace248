"""A real dask.distributed cluster of two single-threaded workers for the cohort tests."""

from __future__ import annotations

from collections.abc import Iterator


def two_worker_client(processes: bool) -> Iterator[object]:
    """A ``Client`` on a ``LocalCluster`` of 2 workers (threads in this process, or processes so
    that what a task hands on really is pickled), closed when the fixture ends."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None)
    client = Client(cluster)
    assert len(client.scheduler_info()["workers"]) == 2
    yield client
    client.close()
    cluster.close()
