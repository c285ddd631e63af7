"""The bridge on the production topology: daphne, a Celery worker and beat as processes of
their own on PostgreSQL and Redis, the bridge as its own process, a real IRC server. A
deploy (daphne stopped and started again) keeps the bot on IRC, and nothing is lost or
answered twice."""

import json
import secrets
import sys

import pytest
from cryptography.fernet import Fernet

from botsite.tests.processes import start, wait_until
from bridge.tests.humans import Human
from bridge.tests.ircd import ngircd
from conversations.models import Bot, Connector, Message

pytestmark = [pytest.mark.e2e, pytest.mark.services]

BOT = "botsite"
TOKEN = secrets.token_urlsafe(32)


@pytest.fixture
def services_env(services_env):
    return {
        **services_env,
        "BRIDGE_TOKEN": TOKEN,
        "CONNECTOR_SECRET_KEYS": Fernet.generate_key().decode(),
    }


def counts() -> dict:
    rows = Message.objects.filter(room__via__isnull=False)
    return {
        "in": rows.filter(sender_kind="participant").count(),
        "bot": rows.filter(sender_kind="bot").count(),
        "unrelayed": rows.filter(sender_kind="bot", relayed_at__isnull=True).count(),
    }


def test_a_deploy_of_the_web_process_keeps_the_bot_on_irc_and_loses_nothing(topology, tmp_path):
    with ngircd(tmp_path) as ircd:
        env = {**topology.env, "BRIDGE_BOTSITE_URL": f"ws://127.0.0.1:{topology.port}"}
        bridge = start("bridge", [sys.executable, "-m", "bridge"], env, tmp_path)
        try:
            alice = Human(ircd.port, "alice")
            alice.join("#botsite")
            Connector.objects.create(
                bot=Bot.objects.get(slug="demo"),
                kind="irc",
                name="test",
                config={"host": "127.0.0.1", "port": ircd.port, "tls": False, "nick": BOT,
                        "channels": ["#botsite"], "auth": "none"},
            )  # fmt: skip
            alice.wait(lambda: ("#botsite", BOT) in alice.joins, what="the bot to join")

            # A worker's answer reaches the bridge through Redis (the channel layer).
            alice.say("#botsite", f"{BOT}: get me the most recent post about golang")
            alice.wait(
                lambda: any("Go" in text for text in alice.heard_from(BOT, "#botsite")),
                what="the latest golang post, from the worker process",
            )

            # A deploy: daphne goes. The bridge stays on IRC, answers the status command
            # itself, and keeps what arrives until daphne is back.
            command = topology.web_stop()
            alice.say("#botsite", "!status")
            alice.wait(
                lambda: any("unreachable" in t for t in alice.heard_from(BOT, "#botsite")),
                what="the bridge's own status answer",
            )
            alice.say("#botsite", "!ping")
            topology.web_start(command)
            alice.wait(
                lambda: "pong" in alice.heard_from(BOT, "#botsite"),
                what="the ping sent during the deploy, answered",
            )
            wait_until(lambda: counts()["unrelayed"] == 0, timeout=30, what="all relayed")
            assert counts() == {"in": 2, "bot": 2, "unrelayed": 0}, json.dumps(counts())
            replies = alice.heard_from(BOT, "#botsite")
            assert replies.count("pong") == 1, replies
            assert alice.joins.count(("#botsite", BOT)) == 1, "the bot never left the channel"
            alice.quit()
        finally:
            bridge.stop()
