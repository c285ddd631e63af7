import pytest

from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db

ADD = "/admin/webhooks/webhookendpoint/add/"


def test_staff_add_an_endpoint_and_see_its_secret_once(admin_client, settings):
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1:9"]
    response = admin_client.post(
        ADD, {"url": "http://127.0.0.1:9/hook", "owner_email": ""}, follow=True
    )

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    page = admin_client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/")
    assert endpoint.secret not in page.content.decode()


def test_a_private_address_is_refused_in_the_admin_form(admin_client):
    response = admin_client.post(ADD, {"url": "http://169.254.169.254/latest"})

    assert response.status_code == 200
    assert "not allowed" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotating_from_the_list_shows_the_new_secret(admin_client, settings):
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1:9"]
    admin_client.post(ADD, {"url": "http://127.0.0.1:9/hook"})
    endpoint = WebhookEndpoint.objects.get()
    old = endpoint.secret

    response = admin_client.post(
        "/admin/webhooks/webhookendpoint/",
        {"action": "secret_rotate", "_selected_action": [endpoint.pk]},
        follow=True,
    )

    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.secret in response.content.decode()
