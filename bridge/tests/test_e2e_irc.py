"""A bot on IRC, end to end: ngircd, the bridge, Botsite, and people on IRC played by the
`irc` library. Everything on loopback, started and stopped here."""

import json
import signal

import pytest

from botsite.tests.processes import wait_until
from botsite.tests.sites import embedded_site
from bridge.tests.humans import Human
from bridge.tests.ircd import ngircd, once_in_ci

pytestmark = [pytest.mark.e2e, once_in_ci]

BOT = "botsite"


def connector_create(site, port: int, **config) -> int:
    config = {
        "host": "127.0.0.1",
        "port": port,
        "tls": False,
        "nick": BOT,
        "channels": ["#botsite"],
        "auth": "none",
        **config,
    }
    return int(
        site.django(
            "from conversations.models import Bot, Connector\n"
            f"connector = Connector(bot=Bot.objects.get(slug='demo'), kind='irc', name='test', "
            f"config={config!r})\n"
            "connector.full_clean()\n"
            "connector.save()\n"
            "print(connector.pk)\n"
        )
    )


def relay_counts(site) -> dict:
    """What the database says of the IRC rooms: messages in, bot messages, those relayed."""
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


def test_a_bot_answers_on_irc_in_a_channel_and_in_private_with_trust_from_ops(tmp_path):
    # A post written from another process reaches the embedded worker through the sweeper.
    with (
        ngircd(tmp_path) as ircd,
        embedded_site(
            tmp_path,
            DELIVERY_SWEEP_SECONDS="1",
            DELIVERY_STUCK_SECONDS="1",
            HTTP_ALLOWED_HOSTS=f"127.0.0.1:{ircd.port}",
        ) as site,
    ):
        alice = Human(ircd.port, "alice")
        alice.join("#botsite")  # first in: a channel operator
        bob = Human(ircd.port, "bob")
        bob.join("#botsite")
        connector_create(site, ircd.port, op_trust=50)
        alice.wait(lambda: ("#botsite", BOT) in alice.joins, what="the bot to join")

        alice.say("#botsite", "!ping")
        alice.wait(lambda: "pong" in alice.heard_from(BOT, "#botsite"), what="pong")
        alice.say("#botsite", f"{BOT}: get me the most recent post about golang")
        alice.wait(
            lambda: any("Go" in text for text in alice.heard_from(BOT, "#botsite")),
            what="the latest golang post, from a worker",
        )
        alice.say(BOT, "!ping")
        alice.wait(lambda: "pong" in alice.heard_from(BOT, "alice"), what="a private pong")
        # An operator is trusted (op_trust); a plain member is not.
        bob.say("#botsite", "!set-command hello Hi there")
        bob.wait(lambda: len(bob.heard_from(BOT, "#botsite")) >= 3, what="bob's refusal")
        alice.say("#botsite", "!set-command hello Hi there")
        alice.wait(
            lambda: any("now answers" in text for text in alice.heard_from(BOT, "#botsite")),
            what="the command set by an operator",
        )
        alice.say("#botsite", "!hello")
        alice.wait(lambda: "Hi there" in alice.heard_from(BOT, "#botsite"), what="the new command")

        # A subscribed channel gets a post once.
        alice.say("#botsite", "!subscribe news")
        alice.wait(
            lambda: any("ubscribed" in text for text in alice.heard_from(BOT, "#botsite")),
            what="the subscription",
        )
        site.django(
            "from publishers import services\n"
            "from publishers.models import Publisher\n"
            "services.post_create(publisher=Publisher.objects.get(slug='news'), title='Hot off')\n"
        )
        alice.wait(
            lambda: any("Hot off" in text for text in alice.heard_from(BOT, "#botsite")),
            what="the post",
        )

        replies = bob.heard_from(BOT, "#botsite")
        assert any("trust" in text.lower() for text in replies), replies
        wait_until(
            lambda: relay_counts(site)["unrelayed"] == 0,
            timeout=20,
            what="every reply marked relayed",
        )
        counts = relay_counts(site)
        assert counts["in"] == 7, counts
        posts = [text for text in alice.heard_from(BOT, "#botsite") if "Hot off" in text]
        assert len(posts) == 1, posts
        status = site.django(
            "from conversations.models import Connector\n"
            "c = Connector.objects.get()\n"
            "print(c.status, c.joined, c.last_in_at is not None, c.last_out_at is not None)\n"
        )
        assert status.strip() == "connected ['#botsite'] True True", status
        alice.quit()
        bob.quit()


def test_nothing_is_lost_or_doubled_when_the_bridge_botsite_or_the_irc_server_restart(
    tmp_path,
):
    with (
        ngircd(tmp_path) as ircd,
        embedded_site(tmp_path, HTTP_ALLOWED_HOSTS=f"127.0.0.1:{ircd.port}") as site,
    ):
        site.bridge_apart()
        bridge_start = site.bridge_start

        bridge = bridge_start(1)
        alice = Human(ircd.port, "alice")
        alice.join("#botsite")
        connector_create(site, ircd.port)
        alice.wait(lambda: ("#botsite", BOT) in alice.joins, what="the bot to join")
        pings = 0

        def ping_answered() -> None:
            nonlocal pings
            pings += 1
            alice.say("#botsite", "!ping")
            alice.wait(
                lambda: alice.heard_from(BOT, "#botsite").count("pong") == pings,
                what=f"pong number {pings}",
            )

        ping_answered()

        # The bridge killed outright, and started again.
        bridge.popen.send_signal(signal.SIGKILL)
        bridge.popen.wait(timeout=10)
        bridge = bridge_start(2)
        alice.wait(lambda: alice.joins.count(("#botsite", BOT)) == 2, what="the bot back")
        ping_answered()

        # Botsite down: the bridge answers the status command itself, and keeps what
        # arrives until Botsite is back.
        site.stop()
        alice.say("#botsite", "!status")
        alice.wait(
            lambda: any("unreachable" in text for text in alice.heard_from(BOT, "#botsite")),
            what="the bridge's own status answer",
        )
        pings += 1
        alice.say("#botsite", "!ping")
        site.start("--no-bridge")
        alice.wait(
            lambda: alice.heard_from(BOT, "#botsite").count("pong") == pings,
            what="the ping sent while Botsite was down, answered",
        )

        # The IRC server restarted: everyone reconnects.
        alice.quit()
        ircd.stop()
        ircd.start()
        alice = Human(ircd.port, "alice")
        alice.join("#botsite")
        alice.wait(lambda: ("#botsite", BOT) in alice.joins, what="the bot back on the server")
        pings_before = pings
        pings = 0
        ping_answered()

        counts = relay_counts(site)
        assert counts["in"] == pings_before + 1, counts
        assert counts["bot"] == pings_before + 1, counts
        wait_until(lambda: relay_counts(site)["unrelayed"] == 0, timeout=20, what="all relayed")
        assert alice.heard_from(BOT, "#botsite") == ["pong"]
        alice.quit()
        bridge.stop()


def bullets(human: Human) -> int:
    return sum(text.startswith("•") for text in human.heard_from(BOT, "#botsite"))


def test_on_irc_help_the_seeds_sentences_questions_and_batching_work_as_in_the_web_chat(
    tmp_path,
):
    with (
        ngircd(tmp_path) as ircd,
        embedded_site(tmp_path, HTTP_ALLOWED_HOSTS=f"127.0.0.1:{ircd.port}") as site,
    ):
        alice, bob = Human(ircd.port, "alice"), Human(ircd.port, "bob")
        alice.join("#botsite")
        bob.join("#botsite")
        connector_create(site, ircd.port)
        alice.wait(lambda: ("#botsite", BOT) in alice.joins, what="the bot to join")
        heard = lambda: alice.heard_from(BOT, "#botsite")  # noqa: E731

        alice.say("#botsite", "!help")
        alice.wait(lambda: any("!ping" in text for text in heard()), what="the help", timeout=60)

        # The seed's latest-post sentences, addressed by the bot's nick or its names.
        for sentence, posts in [
            ("!latest-post", 1),
            (f"{BOT}: get me the three most recent posts", 3),
            (f"{BOT}, get me the 6th most recent post", 1),
            ("hey bot, get me the most recent post about golang", 1),
        ]:
            expected = bullets(alice) + posts
            alice.say("#botsite", sentence)
            alice.wait(lambda n=expected: bullets(alice) == n, what=f"{posts} post(s): {sentence}")
        assert "• Range-over-func iterators in Go" in heard()

        # A question and its answer.
        alice.say("#botsite", "!remember")
        alice.wait(lambda: "What should I call it?" in heard(), what="the first question")
        alice.say("#botsite", "wifi")
        alice.wait(lambda: "What should I remember?" in heard(), what="the second question")
        alice.say("#botsite", "correct horse")
        alice.say("#botsite", "!recall wifi")
        alice.wait(lambda: any("correct horse" in text for text in heard()), what="recall")

        # Two people asking the same thing in one batching window: one reply to both.
        site.batching_window_open(2000)
        alice.say("#botsite", "!ping")
        bob.say("#botsite", "!ping")
        alice.wait(lambda: any(t.endswith(": pong") for t in heard()), what="one reply to both")
        [reply] = [text for text in heard() if text.endswith("pong")]
        assert sorted(reply.removesuffix(": pong").split(", ")) == ["alice", "bob"], reply
        alice.quit()
        bob.quit()
