"""A bot on Matrix, end to end: Synapse, the bridge, Botsite, and people on Matrix played by
matrix-nio clients. Everything on loopback, started and stopped here."""

import asyncio
import json
import signal

import pytest

from botsite.tests.processes import wait_until
from botsite.tests.sites import EmbeddedSite, embedded_site, once_in_ci
from bridge.networks import connection_probe
from bridge.tests.matrix_humans import MatrixHuman
from bridge.tests.synapse import SERVER_NAME, Synapse, synapse

pytestmark = [pytest.mark.e2e, once_in_ci]

BOT = f"@botsite:{SERVER_NAME}"
ALIAS = f"#botsite:{SERVER_NAME}"


def connector_create(site: EmbeddedSite, server: Synapse, **config: object) -> int:
    config = {"homeserver": server.url, "user_id": BOT, "rooms": [ALIAS], **config}
    return int(
        site.django(
            "from conversations.models import Bot, Connector\n"
            "from conversations.services.connectors import connector_secret_set\n"
            f"connector = Connector(bot=Bot.objects.get(slug='demo'), kind='matrix', "
            f"name='test', config={config!r})\n"
            "connector.full_clean()\n"
            "connector.save()\n"
            "connector_secret_set(connector=connector, secret='bot-password')\n"
            "print(connector.pk)\n"
        )
    )


def people(server: Synapse, *names: str) -> list[MatrixHuman]:
    server.user_register("botsite", "bot-password")
    return [
        MatrixHuman(server.url, server.user_register(name, f"{name}-password"), f"{name}-password")
        for name in names
    ]


def bridged(site: EmbeddedSite) -> dict:
    """What the database says of the connector in one trip: its messages in, the bot's,
    those not relayed yet, its rooms (by the bridge's name for each) and its state."""
    return json.loads(
        site.django(
            "import json\n"
            "from conversations.models import Connector, Message, Room\n"
            "connector = Connector.objects.get()\n"
            "rows = Message.objects.filter(room__via=connector)\n"
            "print(json.dumps({\n"
            "  'in': rows.filter(sender_kind='participant').count(),\n"
            "  'bot': rows.filter(sender_kind='bot').count(),\n"
            "  'unrelayed': rows.filter(sender_kind='bot', relayed_at__isnull=True).count(),\n"
            "  'rooms': sorted(r.external_id.split('/', 1)[1] for r in connector.rooms.all()),\n"
            "  'status': connector.status,\n"
            "  'joined': sorted(connector.joined),\n"
            "  'cursor': connector.cursor,\n"
            "}))\n"
        )
    )


def all_relayed(site: EmbeddedSite) -> dict:
    """`bridged(site)` once every bot message is relayed."""

    def relayed() -> dict | None:
        state = bridged(site)
        return state if state["unrelayed"] == 0 else None

    return wait_until(relayed, timeout=20, what="every bot message relayed")


def test_a_bot_answers_on_matrix_in_a_room_and_a_direct_chat_with_trust_from_power_levels(
    tmp_path,
):
    # A post written from another process reaches the embedded worker through the sweeper.
    with (
        synapse(tmp_path) as server,
        embedded_site(
            tmp_path,
            DELIVERY_SWEEP_SECONDS="1",
            DELIVERY_STUCK_SECONDS="1",
            HTTP_ALLOWED_HOSTS=f"127.0.0.1:{server.port}",
        ) as site,
    ):
        alice, bob, carol = people(server, "alice", "bob", "carol")
        room = alice.room_create(alias="botsite", is_public=True)
        bob.join(room)
        connector_create(site, server, admin_trust=50)
        alice.wait(lambda: alice.has_joined(room, BOT), what="the bot to join")
        heard = lambda: alice.texts_from(BOT, room)  # noqa: E731

        # A direct chat: the bot accepts the invitation and answers without being addressed.
        direct = carol.room_create(invite=(BOT,), is_direct=True)
        carol.wait(lambda: carol.has_joined(direct, BOT), what="the invitation accepted")
        carol.say(direct, "!ping")
        carol.wait(lambda: carol.texts_from(BOT, direct) == ["pong"], what="a direct pong")

        alice.say(room, "!help")
        alice.wait(lambda: any("!ping" in text for text in heard()), what="the help", timeout=60)

        # Addressed by name, answered by a worker; the bot types meanwhile.
        alice.say(room, "botsite: get me the most recent post about golang")
        alice.wait(
            lambda: "• Range-over-func iterators in Go" in heard(),
            what="the latest golang post, from a worker",
        )
        alice.wait(lambda: alice.saw_typing(BOT, room), what="the bot typing")

        # The room's admin (power level 100) is trusted (admin_trust); bob (0) is not.
        bob.say(room, "!set-command hello Hi there")
        bob.wait(
            lambda: any("trust" in text.lower() for text in bob.texts_from(BOT, room)),
            what="bob's refusal",
        )
        alice.say(room, "!set-command hello Hi there")
        alice.wait(lambda: any("now answers" in text for text in heard()), what="the command")
        alice.say(room, "!hello")
        alice.wait(lambda: "Hi there" in heard(), what="the new command")

        # A reply with HTML (staff gave a template one) comes with Matrix's HTML, cleaned.
        site.django(
            "from actions.models import ResponseTemplate\n"
            "template = ResponseTemplate.objects.get(bot__slug='demo', key='mood_set')\n"
            "template.html = 'Mood set to <strong onclick=\"x()\">{mood}</strong>.'\n"
            "template.full_clean()\n"
            "template.save()\n"
        )
        alice.say(room, "!mood grumpy")
        alice.wait(lambda: "Mood set to grumpy." in heard(), what="the mood set")
        [mood] = [each for each in alice.heard_from(BOT, room) if each.text.startswith("Mood")]
        assert mood.html == "Mood set to <strong>grumpy</strong>.", mood

        # A subscribed room gets a post once.
        alice.say(room, "!subscribe news")
        alice.wait(lambda: any("ubscribed" in text for text in heard()), what="the subscription")
        site.django(
            "from publishers import services\n"
            "from publishers.models import Publisher\n"
            "services.post_create(publisher=Publisher.objects.get(slug='news'), title='Hot off')\n"
        )
        alice.wait(lambda: any("Hot off" in text for text in heard()), what="the post")

        # Two people asking the same thing in one batching window: one reply to both.
        site.batching_window_open(2000)
        alice.say(room, "!ping")
        bob.say(room, "!ping")
        alice.wait(lambda: any(t.endswith(": pong") for t in heard()), what="one reply to both")
        [reply] = [text for text in heard() if text.endswith(": pong")]
        assert len(reply.removesuffix(": pong").split(", ")) == 2, reply

        state = all_relayed(site)
        assert (state["in"], state["bot"]) == (10, 10), state
        assert len([text for text in heard() if "Hot off" in text]) == 1, heard()
        assert state["status"] == "connected", state
        assert state["joined"] == state["rooms"] == sorted([ALIAS, direct]), state

        # The admin's "test connection": a wrong password is named as Matrix names it.
        config = {"homeserver": server.url, "user_id": BOT, "rooms": [ALIAS]}
        refused = asyncio.run(connection_probe("matrix", config, "wrong", timeout=20))
        taken = asyncio.run(connection_probe("matrix", config, "bot-password", timeout=20))
        assert (refused.state, refused.detail) == (
            "failing",
            "login refused: M_FORBIDDEN Invalid username or password",
        ), refused
        assert (taken.state, taken.joined) == ("connected", sorted([ALIAS, direct])), taken
        for person in (alice, bob, carol):
            person.quit()


def test_nothing_is_lost_or_doubled_when_the_bridge_is_killed_or_botsite_is_down(tmp_path):
    with (
        synapse(tmp_path) as server,
        embedded_site(tmp_path, HTTP_ALLOWED_HOSTS=f"127.0.0.1:{server.port}") as site,
    ):
        site.bridge_apart()
        bridge_start = site.bridge_start

        def bridge_kill(bridge) -> None:
            bridge.popen.send_signal(signal.SIGKILL)
            bridge.popen.wait(timeout=10)

        [alice] = people(server, "alice")
        room = alice.room_create(alias="botsite", is_public=True)
        bridge = bridge_start(1)
        connector_create(site, server)
        alice.wait(lambda: alice.has_joined(room, BOT), what="the bot to join")
        # A connector's first start skips the rooms' history; from its first report on, it
        # starts where it was.
        wait_until(lambda: bridged(site)["cursor"], timeout=20, what="a cursor stored")
        pongs = lambda: alice.texts_from(BOT, room).count("pong")  # noqa: E731

        alice.say(room, "!ping")
        alice.wait(lambda: pongs() == 1, what="the first pong")
        # Killed (most likely) before it reported the cursor past that ping: the ping comes
        # again and is stored once, and a pong said again is one the homeserver has.
        bridge_kill(bridge)
        alice.say(room, "!ping")
        bridge = bridge_start(2)
        alice.wait(lambda: pongs() == 2, what="the ping sent while the bridge was dead")

        # Killed after it reported where it is: it goes on from there.
        before = bridged(site)["cursor"]
        wait_until(lambda: bridged(site)["cursor"] != before, timeout=20, what="the cursor moved")
        bridge_kill(bridge)
        alice.say(room, "!ping")
        bridge = bridge_start(3)
        alice.wait(lambda: pongs() == 3, what="the ping sent while the bridge was dead again")

        # Botsite down: the bridge answers the status command itself, and keeps what
        # arrives until Botsite is back.
        site.stop()
        alice.say(room, "!status")
        alice.wait(
            lambda: any("unreachable" in text for text in alice.texts_from(BOT, room)),
            what="the bridge's own status answer",
        )
        alice.say(room, "!ping")
        site.start("--no-bridge")
        alice.wait(lambda: pongs() == 4, what="the ping sent while Botsite was down")

        state = all_relayed(site)
        assert (state["in"], state["bot"]) == (4, 4), state
        assert pongs() == 4, alice.texts_from(BOT, room)
        assert state["rooms"] == [ALIAS], "one room, however the message came"
        alice.quit()
        bridge.stop()
