"""A bot in Twitch chat, end to end: Botsite and its bridge, against a DOUBLE of Twitch's
chat server (`twitchd.py`: no Twitch server can run here), with viewers played by the
`irc` library. What is IRC's own (reconnects, flood pacing, restarts) is tested against a
real IRC server in test_e2e_irc.py."""

import json

import pytest

from botsite.tests.processes import wait_until
from botsite.tests.sites import embedded_site
from bridge.tests.humans import Human
from bridge.tests.ircd import once_in_ci
from bridge.tests.twitchd import Viewer, twitch_double

pytestmark = [pytest.mark.e2e, once_in_ci]

BOT = "botsite_bot"
CHANNEL = "#streamer"
TOKENS = {BOT: "bottoken", "streamer": "s3cret", "viewer": "v13wer"}
WINDOW_MS = 3000


def connector_create(site, port: int, token: str) -> None:
    config = {
        "nick": BOT,
        "channels": [CHANNEL],
        "host": "127.0.0.1",
        "port": port,
        "tls": False,
        "broadcaster_trust": 50,
    }
    site.django(
        "from conversations.models import Bot, Connector\n"
        "from conversations.services.connectors import connector_secret_set\n"
        f"connector = Connector(bot=Bot.objects.get(slug='demo'), kind='twitch', "
        f"name='twitch', config={config!r})\n"
        "connector.full_clean()\n"
        "connector.save()\n"
        f"connector_secret_set(connector=connector, secret={token!r})\n"
    )


def participants(site) -> dict:
    return json.loads(
        site.django(
            "import json\n"
            "from conversations.models import Participant\n"
            "rows = Participant.objects.filter(connector='twitch')\n"
            "print(json.dumps({p.external_id.split('/', 1)[1]: [p.display_name, p.trust_level]"
            " for p in rows}))\n"
        )
    )


def test_a_bot_answers_in_twitch_chat_with_badges_names_and_twitchs_limits(tmp_path):
    # A post written from another process reaches the embedded worker through the sweeper.
    with (
        twitch_double(TOKENS) as twitch,
        embedded_site(
            tmp_path,
            DELIVERY_SWEEP_SECONDS="1",
            DELIVERY_STUCK_SECONDS="1",
            HTTP_ALLOWED_HOSTS=f"127.0.0.1:{twitch.port}",
        ) as site,
    ):
        twitch.viewers["streamer"] = Viewer("StreamerGal", "1001", "broadcaster/1,partner/1")
        twitch.viewers["viewer"] = Viewer("Viewer_One", "2002", "")
        streamer = Human(twitch.port, "streamer", password="oauth:s3cret")
        streamer.join(CHANNEL)
        viewer = Human(twitch.port, "viewer", password="oauth:v13wer")
        viewer.join(CHANNEL)
        # The token stored with or without Twitch's "oauth:" in front works alike.
        connector_create(site, twitch.port, "oauth:bottoken")
        wait_until(lambda: CHANNEL in twitch.channels_of(BOT), timeout=30, what="the bot to join")

        streamer.say(CHANNEL, "!ping")
        streamer.wait(lambda: "pong" in streamer.heard_from(BOT, CHANNEL), what="pong")
        streamer.say(CHANNEL, f"@{BOT} get me the most recent post about golang")
        streamer.wait(
            lambda: any("Go" in text for text in streamer.heard_from(BOT, CHANNEL)),
            what="the latest golang post, from a worker",
        )
        for text, answer in [
            (f"@{BOT} get me the most recent post", "Schedules that survive restarts"),
            (f"{BOT}: get me the three most recent posts", "Schedules that survive restarts"),
            (f"@{BOT}, get me the 6th most recent post", "Generics in Go, two years on"),
        ]:
            streamer.ask(CHANNEL, text, answer=answer, bot=BOT)
        viewer.say(CHANNEL, "!help")
        viewer.wait(
            lambda: any("ping" in text for text in viewer.heard_from(BOT, CHANNEL)),
            what="the help",
        )

        # The broadcaster's badge is trusted (broadcaster_trust); a plain viewer is not.
        viewer.say(CHANNEL, "!set-command hello Hi chat")
        viewer.wait(
            lambda: any("trust" in text.lower() for text in viewer.heard_from(BOT, CHANNEL)),
            what="the refusal",
        )
        streamer.say(CHANNEL, "!set-command hello Hi chat")
        streamer.wait(
            lambda: any("now answers" in text for text in streamer.heard_from(BOT, CHANNEL)),
            what="the command set by the broadcaster",
        )

        # Two viewers asking at once, inside the bot's batching window: one reply, both named.
        site.batching_window_open(WINDOW_MS)
        streamer.say(CHANNEL, "!ping")
        viewer.say(CHANNEL, "!ping")
        streamer.wait(
            lambda: any(
                "StreamerGal" in text and "Viewer_One" in text and "pong" in text
                for text in streamer.heard_from(BOT, CHANNEL)
            ),
            what="one pong naming both",
        )
        # Twitch's ids and names: the user id is who they are, the display name what shows.
        assert participants(site) == {"id:1001": ["StreamerGal", 50], "id:2002": ["Viewer_One", 0]}

        # A subscribed channel gets a post once.
        streamer.ask(CHANNEL, "!subscribe news", answer="ubscribed", bot=BOT)
        site.django(
            "from publishers import services\n"
            "from publishers.models import Publisher\n"
            "services.post_create(publisher=Publisher.objects.get(slug='news'), title='Hot off')\n"
        )
        streamer.wait(
            lambda: any("Hot off" in text for text in streamer.heard_from(BOT, CHANNEL)),
            what="the post",
        )

        # The room's messages go out in order: once a later one is heard, a second copy of
        # the batched reply would have been heard too.
        viewer.say(CHANNEL, "!about")
        streamer.wait(lambda: "demo bot" in streamer.heard_from(BOT, CHANNEL)[-1], what="the about")
        posts = [text for text in streamer.heard_from(BOT, CHANNEL) if "Hot off" in text]
        assert len(posts) == 1, posts
        pongs = [text for text in streamer.heard_from(BOT, CHANNEL) if text.endswith("pong")]
        assert pongs == ["pong", "StreamerGal, Viewer_One: pong"], pongs
        assert twitch.violations == [], twitch.violations
        streamer.quit()
        viewer.quit()


def test_a_wrong_token_is_reported_in_the_connectors_state(tmp_path):
    with (
        twitch_double(TOKENS) as twitch,
        embedded_site(tmp_path, HTTP_ALLOWED_HOSTS=f"127.0.0.1:{twitch.port}") as site,
    ):
        connector_create(site, twitch.port, "not-the-token")
        wait_until(
            lambda: (
                "Login authentication failed"
                in site.django(
                    "from conversations.models import Connector\n"
                    "print(Connector.objects.get().status_detail)\n"
                )
            ),
            timeout=30,
            what="the refusal in the connector's state",
        )
