import uuid

import pytest
from django.db import connections

from botsite.demo import demo_install


@pytest.fixture(scope="session", autouse=True)
def _database_connections_close_after_use():
    # Threads of database_sync_to_async would otherwise keep persistent PostgreSQL
    # connections open past the session, and the test database could not be dropped.
    for alias in connections:
        connections.settings[alias]["CONN_MAX_AGE"] = 0


@pytest.fixture(autouse=True)
def _cache_of_its_own(settings):
    """Each test reads and writes its own cache keys, also in a shared Redis."""
    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
        for alias, config in settings.CACHES.items()
    }


@pytest.fixture
def demo_bot(db):
    """The demo bot exactly as `make run` installs it."""
    return demo_install()
