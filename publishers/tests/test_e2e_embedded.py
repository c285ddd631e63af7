"""Publishing in the embedded run (`make run`: one process, SQLite, in-memory broker)."""

import json
from email import message_from_bytes

import pytest

from botsite.tests.processes import bot_says, chat_socket, receive_until, wait_until
from botsite.tests.sites import embedded_site, once_in_ci

pytestmark = [pytest.mark.e2e, once_in_ci]

POST = """
from publishers import services
from publishers.models import Publisher
news = Publisher.objects.get(bot__slug="demo", slug="news")
services.subscription_create(publisher=news, destination="email", email="ada@example.com")
services.post_create(publisher=news, title="Hello from the embedded run", tags=["go"])
"""


def test_a_post_written_elsewhere_reaches_the_chat_and_the_mail_folder_through_the_sweeper(
    tmp_path,
):
    with (
        embedded_site(tmp_path, DELIVERY_SWEEP_SECONDS="1", DELIVERY_STUCK_SECONDS="1") as site,
        chat_socket(site.port) as chat,
    ):
        chat.send(json.dumps({"type": "message", "text": "!subscribe news"}))
        receive_until(chat, bot_says("Subscribed: new news posts"), timeout=30)
        # A separate process: its task never reaches the embedded worker (README), so the
        # in-process sweeper has to find the pending deliveries and send them.
        site.django(POST)

        post = receive_until(chat, bot_says("📰 Botsite news"), timeout=30)
        outbox = tmp_path / "data" / "outbox"
        files = wait_until(lambda: list(outbox.glob("*.log")), timeout=30, what="the mail")

    assert post["text"] == "📰 Botsite news: Hello from the embedded run"
    mail = message_from_bytes(files[0].read_bytes())
    assert mail["To"] == "ada@example.com"
    assert mail["Subject"] == "Botsite news: Hello from the embedded run"
    assert "/publishing/unsubscribe/" in mail["List-Unsubscribe"]
