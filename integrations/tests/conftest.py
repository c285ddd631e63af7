import pytest
from rest_framework.test import APIClient

from integrations.tests.factories import Tenant, tenant_make


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
