import pytest
from rest_framework.test import APIClient

from integrations.tests.factories import Tenant, tenant_make


@pytest.fixture(autouse=True)
def _local_receivers_allowed(settings):
    # The port the tests' registered URLs name (discard: nothing listens, nothing is sent).
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1:9"]


@pytest.fixture
def own(db) -> Tenant:
    return tenant_make("own")


@pytest.fixture
def foreign(db) -> Tenant:
    return tenant_make("foreign")


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def api(own) -> APIClient:
    """A client with the own tenant's write token."""
    return client_for(own.secret)
