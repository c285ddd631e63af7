"""A bot on XMPP, end to end: Prosody, the bridge, Botsite, and people on XMPP played by
slixmpp clients. Everything on loopback, started and stopped here; STARTTLS to a
certificate made for the test, trusted by the connector."""

import json
import signal

import pytest

from botsite.tests.processes import wait_until
from botsite.tests.sites import embedded_site
from bridge.tests.ircd import once_in_ci
from bridge.tests.prosody import DOMAIN, ROOMS, Prosody, prosody
from bridge.tests.xmpp_humans import XmppHuman

pytestmark = [pytest.mark.e2e, once_in_ci]

BOT = "botsite"
ROOM = f"botsite@{ROOMS}"
BOT_JID = f"bot@{DOMAIN}"


def connector_create(site, server: Prosody, **config) -> int:
    config = {
        "jid": BOT_JID,
        "host": "127.0.0.1",
        "port": server.port,
        "tls": "starttls",
        "tls_ca": server.certificate,
        "nick": BOT,
        "rooms": [ROOM],
        **config,
    }
    return int(
        site.django(
            "from conversations.models import Bot, Connector\n"
            "from conversations.services.connectors import connector_secret_set\n"
            f"connector = Connector(bot=Bot.objects.get(slug='demo'), kind='xmpp', name='test', "
            f"config={config!r})\n"
            "connector.full_clean()\n"
            "connector.save()\n"
            "connector_secret_set(connector=connector, secret='bot-password')\n"
            "print(connector.pk)\n"
        )
    )


def human(server: Prosody, name: str) -> XmppHuman:
    return XmppHuman(
        server.port, f"{name}@{DOMAIN}", f"{name}-password", certificate=server.certificate
    )


def accounts_add(server: Prosody, *names: str) -> None:
    server.user_add("bot", "bot-password")
    for name in names:
        server.user_add(name, f"{name}-password")


def relay_counts(site) -> dict:
    """What the database says of the bridged rooms: messages in, bot messages, unrelayed."""
    return json.loads(
        site.django(
            "import json\n"
            "from conversations.models import Message\n"
            "rows = Message.objects.filter(room__via__isnull=False)\n"
            "print(json.dumps({\n"
            "  'in': rows.filter(sender_kind='participant').count(),\n"
            "  'bot': rows.filter(sender_kind='bot').count(),\n"
            "  'unrelayed': rows.filter(sender_kind='bot', relayed_at__isnull=True).count(),\n"
            "}))\n"
        )
    )


def test_a_bot_answers_on_xmpp_in_a_room_and_one_to_one_with_trust_from_affiliations(tmp_path):
    # A post written from another process reaches the embedded worker through the sweeper.
    with (
        prosody(tmp_path) as server,
        embedded_site(
            tmp_path,
            DELIVERY_SWEEP_SECONDS="1",
            DELIVERY_STUCK_SECONDS="1",
            HTTP_ALLOWED_HOSTS=f"127.0.0.1:{server.port}",
        ) as site,
    ):
        accounts_add(server, "alice", "bob")
        alice = human(server, "alice")
        alice.join(ROOM)  # first in: the room's owner
        bob = human(server, "bob")
        bob.join(ROOM)
        connector_create(site, server, owner_trust=50)
        alice.wait(lambda: (ROOM, BOT) in alice.joins, what="the bot to join")
        heard = lambda: alice.heard_from(BOT, ROOM)  # noqa: E731

        alice.say(ROOM, "!help")
        alice.wait(lambda: any("!ping" in text for text in heard()), what="the help")
        alice.say(ROOM, f"{BOT}: get me the most recent post about golang")
        alice.wait(
            lambda: any("Go" in text for text in heard()),
            what="the latest golang post, from a worker",
        )
        # While a worker ran it, the room was shown the bot composing (XEP-0085).
        alice.wait(lambda: (ROOM, BOT, "composing") in alice.states, what="the bot composing")
        alice.tell(BOT_JID, "!ping")
        alice.wait(lambda: "pong" in alice.heard_from(BOT_JID, BOT_JID), what="a one-to-one pong")

        # The room's owner is trusted (owner_trust); a plain participant is not.
        bob.say(ROOM, "!set-command hello Hi there")
        bob.wait(
            lambda: any("trust" in text.lower() for text in bob.heard_from(BOT, ROOM)),
            what="bob's refusal",
        )
        alice.say(ROOM, "!set-command hello Hi there")
        alice.wait(
            lambda: any("now answers" in text for text in heard()),
            what="the command set by the owner",
        )
        alice.say(ROOM, "!hello")
        alice.wait(lambda: "Hi there" in heard(), what="the new command")

        # A subscribed room gets a post once.
        alice.say(ROOM, "!subscribe news")
        alice.wait(lambda: any("ubscribed" in text for text in heard()), what="the subscription")
        site.django(
            "from publishers import services\n"
            "from publishers.models import Publisher\n"
            "services.post_create(publisher=Publisher.objects.get(slug='news'), title='Hot off')\n"
        )
        alice.wait(lambda: any("Hot off" in text for text in heard()), what="the post")

        # Two people asking the same thing in one batching window: one reply to both.
        site.batching_window_open(2000)
        alice.say(ROOM, "!ping")
        bob.say(ROOM, "!ping")
        alice.wait(lambda: any(t.endswith(": pong") for t in heard()), what="one reply to both")
        [reply] = [text for text in heard() if text.endswith(": pong")]
        assert len(reply.removesuffix(": pong").split(", ")) == 2, reply

        wait_until(
            lambda: relay_counts(site)["unrelayed"] == 0,
            timeout=20,
            what="every reply marked relayed",
        )
        counts = relay_counts(site)
        assert counts["in"] == 9, counts
        posts = [text for text in heard() if "Hot off" in text]
        assert len(posts) == 1, posts
        status = site.django(
            "from conversations.models import Connector\n"
            "c = Connector.objects.get()\n"
            "print(c.status, c.joined, c.status_detail, c.last_in_at is not None)\n"
        )
        assert status.strip() == f"connected ['{ROOM}']  True", status
        alice.quit()
        bob.quit()


def test_nothing_is_lost_or_doubled_when_the_bridge_botsite_or_the_xmpp_server_restart(
    tmp_path,
):
    with (
        prosody(tmp_path) as server,
        embedded_site(tmp_path, HTTP_ALLOWED_HOSTS=f"127.0.0.1:{server.port}") as site,
    ):
        accounts_add(server, "alice")
        site.bridge_apart()
        bridge_start = site.bridge_start

        bridge = bridge_start(1)
        alice = human(server, "alice")
        alice.join(ROOM)
        connector_create(site, server)
        alice.wait(lambda: (ROOM, BOT) in alice.joins, what="the bot to join")
        pings = 0

        def ping_answered() -> None:
            nonlocal pings
            pings += 1
            alice.say(ROOM, "!ping")
            alice.wait(
                lambda: alice.heard_from(BOT, ROOM).count("pong") == pings,
                what=f"pong number {pings}",
            )

        ping_answered()

        # The bridge killed outright, and started again.
        bridge.popen.send_signal(signal.SIGKILL)
        bridge.popen.wait(timeout=10)
        bridge = bridge_start(2)
        alice.wait(lambda: alice.joins.count((ROOM, BOT)) == 2, what="the bot back")
        ping_answered()

        # Botsite down: the bridge answers the status command itself, and keeps what
        # arrives until Botsite is back.
        site.stop()
        alice.say(ROOM, "!status")
        alice.wait(
            lambda: any("unreachable" in text for text in alice.heard_from(BOT, ROOM)),
            what="the bridge's own status answer",
        )
        pings += 1
        alice.say(ROOM, "!ping")
        site.start("--no-bridge")
        alice.wait(
            lambda: alice.heard_from(BOT, ROOM).count("pong") == pings,
            what="the ping sent while Botsite was down, answered",
        )

        # The XMPP server restarted: everyone reconnects, the bot joins its room again.
        alice.quit()
        server.stop()
        server.start()
        alice = human(server, "alice")
        alice.join(ROOM)
        alice.wait(lambda: (ROOM, BOT) in alice.joins, what="the bot back on the server")
        pings_before = pings
        pings = 0
        ping_answered()

        counts = relay_counts(site)
        assert counts["in"] == pings_before + 1, counts
        assert counts["bot"] == pings_before + 1, counts
        wait_until(lambda: relay_counts(site)["unrelayed"] == 0, timeout=20, what="all relayed")
        assert alice.heard_from(BOT, ROOM) == ["pong"]
        alice.quit()
        bridge.stop()
