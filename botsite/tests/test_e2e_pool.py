"""The REST endpoint's `wait` against a small connection pool, through real processes."""

from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.services]


@pytest.fixture
def services_env(services_env):
    # Two pooled connections for daphne, and a wait for one of half the time each request
    # waits for its reply: a request that held its connection while waiting would starve
    # the third request. (1 s was too short for the short holds of six requests queueing on
    # a loaded machine: they answered 503.)
    return {**services_env, "DATABASE_POOL_MAX_SIZE": "2", "DATABASE_POOL_TIMEOUT_SECONDS": "3"}


def test_requests_waiting_for_replies_do_not_hold_pooled_connections(topology):
    topology.worker.stop()  # queued calls stay pending: every request waits its full time

    def post(n: int) -> int:
        return topology.message_post("!latest-post", f"waiting-{n}", wait=6).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(post, range(6)))

    assert statuses == [202] * 6  # each waited, none failed for want of a connection
