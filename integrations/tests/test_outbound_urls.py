"""Every field that names a URL Botsite will call is checked when it is saved, by the one
check of `botsite.http`: the API answers 400 naming the reason and stores nothing."""

import pytest

from actions.models import Action
from publishers.models import Publisher
from webhooks.models import WebhookEndpoint

PRIVATE_URLS = [
    "http://127.0.0.1:6379/",  # Redis on the machine itself
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64 of the cloud metadata address
    "https://intranet.example.com/feed",  # a name whose answer is private
]


def publisher_body(tenant, kind: str, url: str) -> dict:
    config = {"url": url} if kind == "feed" else {"url": url, "id_field": "id", "title_field": "t"}
    return {"bot": tenant.bot.slug, "slug": "blog", "name": "Blog", "kind": kind, "config": config}


def action_body(tenant, url: str) -> dict:
    config = {"url": url, "fields": {"temp": "temp"}, "reply": "It is {temp}."}
    return {"bot": tenant.bot.slug, "name": "weather", "kind": "http_json", "config": config}


RESOURCES = {
    "feed publisher": ("publishers", lambda t, u: publisher_body(t, "feed", u), "config"),
    "JSON publisher": ("publishers", lambda t, u: publisher_body(t, "json_endpoint", u), "config"),
    "HTTP JSON action": ("actions", action_body, "config"),
    "webhook endpoint": ("webhook-endpoints", lambda t, u: {"bot": t.bot.slug, "url": u}, "url"),
}
MODELS = {"publishers": Publisher, "actions": Action, "webhook-endpoints": WebhookEndpoint}


@pytest.fixture(autouse=True)
def _names(dns):
    dns["intranet.example.com"] = ["10.0.0.5"]
    dns["news.example.com"] = ["93.184.215.14"]


@pytest.mark.parametrize("url", PRIVATE_URLS)
@pytest.mark.parametrize("resource", RESOURCES)
def test_a_private_url_is_a_400_naming_the_reason_and_saves_nothing(api, own, resource, url):
    path, body_for, field = RESOURCES[resource]
    count = MODELS[path].objects.count()

    response = api.post(f"/api/v1/{path}/", body_for(own, url), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert "private or local address; it is not allowed" in str(body["fields"][field])
    assert MODELS[path].objects.count() == count


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_public_url_is_saved(api, own, resource):
    path, body_for, _ = RESOURCES[resource]

    response = api.post(
        f"/api/v1/{path}/", body_for(own, "https://news.example.com/x"), format="json"
    )

    assert response.status_code == 201, response.content


def test_a_feed_moved_to_a_private_address_is_refused_and_keeps_its_url(api, own):
    created = api.post(
        "/api/v1/publishers/",
        publisher_body(own, "feed", "https://news.example.com/feed"),
        format="json",
    ).json()

    response = api.patch(
        f"/api/v1/publishers/{created['id']}/",
        {"config": {"url": "http://127.0.0.1:6379/"}},
        format="json",
    )

    assert response.status_code == 400
    assert Publisher.objects.get(pk=created["id"]).config["url"] == "https://news.example.com/feed"


def test_the_user_may_not_choose_the_host_an_http_json_action_calls(api, own):
    response = api.post(
        "/api/v1/actions/", action_body(own, "https://{query}.example.com/weather"), format="json"
    )

    assert response.status_code == 400
    assert "not the host" in str(response.json()["fields"]["config"])
