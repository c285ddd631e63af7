"""The outbound guard in live processes: an allow-list entry set for a local feed on the
web ports does not let a worker reach another service of the machine (Redis's port here),
even for URLs saved before the check at save existed."""

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from botsite.tests.processes import wait_until
from conversations.models import Bot
from integrations.tests.factories import token_make
from publishers.models import Delivery, Publisher, PublisherRun, Subscription
from webhooks.models import WebhookEndpoint
from webhooks.signing import secret_generate

pytestmark = [pytest.mark.e2e, pytest.mark.services]


class Listener:
    """A TCP port on 127.0.0.1 standing in for a private service; counts who connects."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


@pytest.fixture
def private_service() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.socket.close()


@pytest.fixture
def services_env(services_env):
    # What an operator sets for a feed served on this machine's port 80.
    return {**services_env, "HTTP_ALLOWED_HOSTS": "127.0.0.1"}


def test_a_host_allowed_for_its_web_ports_keeps_its_other_ports_closed(topology, private_service):
    demo = Bot.objects.get(slug="demo")
    target = f"http://127.0.0.1:{private_service.port}/"
    # Rows saved before URLs were checked at save: only the check at connect stands.
    feed = Publisher.objects.create(bot=demo, slug="local", name="Local", kind="feed",
                                    config={"url": target})  # fmt: skip
    news = Publisher.objects.create(bot=demo, slug="bulletin", name="Bulletin", kind="manual")
    endpoint = WebhookEndpoint.objects.create(bot=demo, url=target, secret=secret_generate())
    Subscription.objects.create(publisher=news, destination="webhook", endpoint=endpoint)
    _, secret = token_make([demo])
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{topology.port}/api/v1/",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )

    assert api.post(f"publishers/{feed.pk}/publish-now/").status_code in (200, 202)
    assert api.post("posts/", json={"publisher": news.pk, "title": "Hi"}).status_code == 201
    wait_until(
        lambda: (
            PublisherRun.objects.filter(publisher=feed).exclude(finished_at=None).exists()
            and Delivery.objects.filter(status="dead").exists()
        ),
        timeout=60,
        what="the feed's run and the webhook's delivery to end",
        watch=topology.processes,
    )

    assert "private or local address" in PublisherRun.objects.get(publisher=feed).error
    assert "private or local address" in Delivery.objects.get().last_error
    assert private_service.connections == 0
    saved = api.post("webhook-endpoints/", json={"bot": demo.slug, "url": target})
    assert saved.status_code == 400  # and a new one is refused when it is saved
