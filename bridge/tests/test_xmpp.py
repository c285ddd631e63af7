"""The bridge's XMPP connection: stanzas read into arrivals (no network), and what a real
Prosody answers a connection test (logged in, refused, unreachable, untrusted)."""

from xml.etree import ElementTree

from slixmpp.jid import JID

from bridge.connection import Arrival, Say
from bridge.networks import connection_probe
from bridge.tests.prosody import DOMAIN, ROOMS, prosody
from bridge.xmpp import BODY_BYTES, XmppConnection

ROOM = f"botsite@{ROOMS}"
CONFIG = {"jid": f"bot@{DOMAIN}", "nick": "botsite", "rooms": [ROOM]}


async def nothing(*args: object) -> None:
    return None


def connection(local_answer=lambda text: None) -> XmppConnection:
    made = XmppConnection(1, CONFIG, "", deliver=nothing, sent=nothing, local_answer=local_answer)
    made.client = made._client_make()
    made.nicks = {ROOM: "botsite"}
    return made


def arrived(made: XmppConnection, **stanza) -> Arrival | None:
    assert made.client is not None
    message = made.client.make_message(mto=JID(CONFIG["jid"]), **stanza)
    made._message(message)
    return None if made.arrivals.empty() else made.arrivals.get_nowait()


async def test_a_room_message_addressed_by_nick_arrives_stripped_from_the_occupant():
    made = connection()

    arrival = arrived(made, mfrom=JID(f"{ROOM}/alice"), mbody="botsite: !ping", mtype="groupchat")

    assert arrival is not None
    assert (arrival.target, arrival.is_direct, arrival.text) == (ROOM, False, "!ping")
    assert arrival.is_addressed
    # The room shows no real JID here: the occupant is known by room/nick.
    assert (arrival.sender, arrival.sender_name) == (f"{ROOM}/alice", "alice")


async def test_history_replayed_on_joining_and_the_bots_own_echo_do_not_arrive():
    made = connection()
    assert made.client is not None
    history = made.client.make_message(
        mto=JID(CONFIG["jid"]), mfrom=JID(f"{ROOM}/alice"), mbody="old", mtype="groupchat"
    )
    history["delay"]["stamp"] = "2020-01-01T00:00:00Z"
    history["delay"]["from"] = JID(ROOM)
    made._message(history)

    assert made.arrivals.empty()
    assert arrived(made, mfrom=JID(f"{ROOM}/botsite"), mbody="pong", mtype="groupchat") is None
    assert arrived(made, mfrom=JID(f"other@{ROOMS}/alice"), mbody="hi", mtype="groupchat") is None


async def test_an_end_to_end_encrypted_message_is_not_answered_by_its_fallback_body():
    made = connection()
    assert made.client is not None
    message = made.client.make_message(
        mto=JID(CONFIG["jid"]),
        mfrom=JID(f"alice@{DOMAIN}/phone"),
        mbody="I sent you an OMEMO encrypted message but your client doesn't support that.",
        mtype="chat",
    )
    message.xml.append(ElementTree.Element("{eu.siacs.conversations.axolotl}encrypted"))
    made._message(message)

    assert made.arrivals.empty()


async def test_a_one_to_one_message_arrives_from_the_bare_jid_addressed():
    made = connection()

    arrival = arrived(made, mfrom=JID(f"alice@{DOMAIN}/phone"), mbody=" !ping ", mtype="chat")

    assert arrival is not None
    assert (arrival.target, arrival.sender, arrival.is_direct) == (f"alice@{DOMAIN}",) * 2 + (True,)
    assert (arrival.text, arrival.is_addressed, arrival.roles) == ("!ping", True, [])
    assert arrived(made, mfrom=JID(f"alice@{DOMAIN}/phone"), mbody=" ", mtype="chat") is None
    assert arrived(made, mfrom=JID(DOMAIN), mbody="Welcome!", mtype="normal") is None
    assert arrived(made, mfrom=JID(ROOM), mbody="You are invited", mtype="normal") is None


async def test_the_event_id_is_the_rooms_stanza_id_never_one_someone_else_claims():
    made = connection()
    assert made.client is not None

    def event_id(stanza_by: str, stanza_id: str = "s1", origin: str = "") -> str:
        message = made.client.make_message(
            mto=JID(CONFIG["jid"]), mfrom=JID(f"{ROOM}/alice"), mbody="hi", mtype="groupchat"
        )
        message["stanza_id"]["id"], message["stanza_id"]["by"] = stanza_id, stanza_by
        if origin:
            message["origin_id"]["id"] = origin
        return made._event_id(message, ROOM, f"{ROOM}/alice")

    assert event_id(ROOM) == event_id(ROOM)
    assert event_id(ROOM) != event_id(ROOM, "s2")
    # A stanza-id by anyone but the room is the sender's word: a fresh id instead.
    assert event_id(f"alice@{DOMAIN}") != event_id(f"alice@{DOMAIN}")
    assert event_id(f"alice@{DOMAIN}", origin="o1") == event_id(f"mallory@{DOMAIN}", origin="o1")
    assert all(len(event_id(ROOM, str(n))) <= 200 for n in range(3))


async def test_the_status_command_is_answered_by_the_bridge_in_the_room_it_came_from():
    made = connection(local_answer=lambda text: "away" if text == "!status" else None)

    arrived(made, mfrom=JID(f"{ROOM}/alice"), mbody="!status", mtype="groupchat")

    assert made.arrivals.empty()
    say = made.queue.get_nowait()
    assert (say.target, say.lines) == (ROOM, ["away"])


async def test_a_message_goes_as_one_body_and_a_very_long_one_is_cut():
    made = connection()

    assert made._pieces(Say(1, ROOM, ["one", "two"])) == ["one\ntwo"]
    long = made._pieces(Say(2, ROOM, ["word " * 5000]))
    assert len(long) > 1
    assert all(len(piece.encode()) <= BODY_BYTES for piece in long)
    assert " ".join(long).split() == ["word"] * 5000
    assert made._message_type(ROOM) == "groupchat"
    assert made._message_type(f"alice@{DOMAIN}") == "chat"


async def test_a_connection_test_says_what_prosody_answered(tmp_path):
    with prosody(tmp_path) as server:
        server.user_add("bot", "right")
        config = {
            **CONFIG,
            "host": "127.0.0.1",
            "port": server.port,
            "tls": "starttls",
            "tls_ca": server.certificate,
        }

        good = await connection_probe("xmpp", config, "right", timeout=20)
        wrong = await connection_probe("xmpp", config, "wrong", timeout=20)
        untrusted = await connection_probe("xmpp", {**config, "tls_ca": ""}, "right", timeout=20)
        insecure = await connection_probe(
            "xmpp", {**config, "tls_ca": "", "tls_insecure": True}, "right", timeout=20
        )
        direct = await connection_probe(
            "xmpp", {**config, "tls": "direct", "port": server.direct_tls_port}, "right", timeout=20
        )
    gone = await connection_probe("xmpp", config, "right", timeout=20)

    assert (good.state, good.joined, good.detail) == ("connected", [ROOM], "")
    assert wrong.state == "failing"
    assert "refused the login (not-authorized)" in wrong.detail, wrong
    assert "certificate" in untrusted.detail, untrusted
    assert insecure.state == "connected", insecure
    assert direct.state == "connected", direct
    assert gone.detail.startswith(f"cannot reach 127.0.0.1:{server.port}"), gone
