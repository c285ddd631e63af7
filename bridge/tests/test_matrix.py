"""The Matrix connection's own bookkeeping, without a homeserver: sync responses as the
homeserver writes them go through matrix-nio's own parsing, and nothing is sent."""

import socket
from typing import Any

import pytest
from nio import SyncResponse

from bridge.connection import Arrival, Say
from bridge.matrix import MESSAGE_BYTES, MatrixConnection
from bridge.networks import connection_probe

BOT = "@botsite:botsite.test"
ROOM, DM = "!room:botsite.test", "!dm:botsite.test"
CONFIG = {"homeserver": "http://127.0.0.1:1", "user_id": BOT, "rooms": ["#botsite:botsite.test"]}


def member(user_id: str, name: str) -> dict[str, Any]:
    return {
        "type": "m.room.member",
        "state_key": user_id,
        "sender": user_id,
        "event_id": f"$join-{name}",
        "origin_server_ts": 1,
        "content": {"membership": "join", "displayname": name},
    }


def message(event_id: str, sender: str, body: str, msgtype: str = "m.text") -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "sender": sender,
        "event_id": event_id,
        "origin_server_ts": 2,
        "content": {"msgtype": msgtype, "body": body},
    }


def sync(
    next_batch: str, timelines: dict[str, list[dict[str, Any]]], *, room_version: str = "12"
) -> SyncResponse:
    state = {
        ROOM: [
            {
                "type": "m.room.create",
                "state_key": "",
                "sender": "@dave:botsite.test",
                "event_id": "$create",
                "origin_server_ts": 0,
                "content": {"room_version": room_version},
            },
            member(BOT, "Botsite"),
            member("@alice:botsite.test", "Alice"),
            member("@bob:botsite.test", "Bob"),
            {
                "type": "m.room.power_levels",
                "state_key": "",
                "sender": "@alice:botsite.test",
                "event_id": "$pl",
                "origin_server_ts": 1,
                "content": {"users": {"@alice:botsite.test": 100, "@bob:botsite.test": 50}},
            },
        ],
        DM: [member(BOT, "Botsite"), member("@carol:botsite.test", "Carol")],
    }
    rooms = {
        room_id: {
            "state": {"events": state[room_id]},
            "timeline": {"events": events, "limited": False, "prev_batch": "p"},
            "ephemeral": {"events": []},
            "account_data": {"events": []},
        }
        for room_id, events in timelines.items()
    }
    response = SyncResponse.from_dict({"next_batch": next_batch, "rooms": {"join": rooms}})
    assert isinstance(response, SyncResponse), response
    return response


class Connected:
    """A connection and its client, fed sync responses by hand."""

    def __init__(self, cursor: str = "") -> None:
        self.arrivals: list[Arrival] = []

        async def deliver(arrival: Arrival) -> None:
            self.arrivals.append(arrival)

        async def nothing(*args: object) -> None:
            return None

        self.connection = MatrixConnection(
            1,
            CONFIG,
            "secret",
            deliver=deliver,
            sent=nothing,
            local_answer=lambda text: "Botsite is unreachable" if text == "!status" else None,
            cursor=cursor,
        )
        self.connection.room_names[ROOM] = "#botsite:botsite.test"
        self.client = self.connection._client_make()
        self.client.user_id = BOT

    async def handled(self, response: SyncResponse, *, history: bool = True) -> None:
        await self.client.receive_response(response)
        await self.connection._handled(self.client, response, history=history)


async def test_the_cursor_moves_only_to_a_batch_whose_messages_and_all_before_were_acked():
    held = Connected(cursor="s0")
    await held.handled(sync("s1", {ROOM: [message("$1", "@alice:botsite.test", "one")]}))
    await held.handled(sync("s2", {ROOM: [message("$2", "@bob:botsite.test", "two")]}))
    await held.handled(sync("s3", {}))
    assert held.connection.cursor == "s0"

    held.connection.acked("$2")
    assert held.connection.cursor == "s0", "the batch before is not acked yet"
    held.connection.acked("$1")
    assert held.connection.cursor == "s3"
    held.connection.acked("$1")  # an ack again (a frame sent again) changes nothing
    assert held.connection.cursor == "s3"
    await held.client.close()


async def test_a_batch_moves_the_cursor_only_once_every_message_of_it_is_acked():
    held = Connected(cursor="s0")
    await held.handled(
        sync(
            "s1",
            {
                ROOM: [
                    message("$1", "@alice:botsite.test", "one"),
                    message("$2", "@alice:botsite.test", "two"),
                ]
            },
        )
    )
    held.connection.acked("$1")
    assert held.connection.cursor == "s0"
    held.connection.acked("$2")
    assert held.connection.cursor == "s1"
    await held.client.close()


async def test_the_first_start_skips_history_and_takes_its_token_at_once():
    held = Connected()
    await held.handled(
        sync("s1", {ROOM: [message("$old", "@alice:botsite.test", "!ping")]}), history=False
    )
    assert held.arrivals == []
    assert held.connection.cursor == "s1"
    await held.client.close()


async def test_text_arrives_with_its_event_id_sender_roles_and_address_and_the_rest_does_not():
    held = Connected(cursor="s0")
    await held.handled(
        sync(
            "s1",
            {
                ROOM: [
                    message("$1", "@alice:botsite.test", "Botsite: get me the latest post"),
                    message("$2", "@bob:botsite.test", "botsite:botsite.test, !help"),
                    message("$3", "@bob:botsite.test", "a notice", msgtype="m.notice"),
                    message("$4", BOT, "my own words"),
                    message("$5", "@bob:botsite.test", "hello botsite"),
                ],
                DM: [message("$6", "@carol:botsite.test", "!ping")],
            },
        )
    )
    alice, bob, bob_again, carol = held.arrivals
    assert (alice.event_id, alice.target, alice.sender, alice.sender_name) == (
        "$1",
        "#botsite:botsite.test",
        "@alice:botsite.test",
        "Alice",
    )
    assert alice.roles == ["admin", "moderator"]
    assert (alice.is_addressed, alice.text) == (True, "get me the latest post")
    assert (bob.roles, bob.is_addressed, bob.text) == (["moderator"], True, "!help")
    assert (bob_again.is_addressed, bob_again.text) == (False, "hello botsite")
    assert not alice.is_direct
    assert (carol.target, carol.is_direct, carol.roles) == (DM, True, [])
    await held.client.close()


async def test_the_status_command_answered_here_is_no_message_for_botsite():
    held = Connected(cursor="s0")
    await held.handled(sync("s1", {DM: [message("$1", "@carol:botsite.test", "!status")]}))
    assert held.arrivals == []
    assert held.connection.cursor == "s1"
    assert held.connection.queue.get_nowait().lines == ["Botsite is unreachable"]
    await held.client.close()


@pytest.mark.parametrize(("room_version", "roles"), [("12", ["admin", "moderator"]), ("11", [])])
async def test_a_rooms_creator_outranks_everyone_from_room_version_12_on(room_version, roles):
    held = Connected(cursor="s0")
    said = [message("$1", "@dave:botsite.test", "!set-command hi there")]
    await held.handled(sync("s1", {ROOM: said}, room_version=room_version))
    assert held.arrivals[0].roles == roles
    await held.client.close()


@pytest.mark.parametrize("html", ["", "<p>hi</p>"])
def test_a_message_goes_as_one_event_with_a_transaction_id_of_its_own(html):
    connection = Connected().connection
    [(transaction, body, markup)] = connection._pieces(Say(42, ROOM, ["one", "two"], html))
    assert (transaction, body, markup) == ("botsite-42-0", "one\ntwo", html)


def test_a_huge_message_goes_in_plain_pieces_that_each_fit():
    connection = Connected().connection
    lines = ["word " * 2000] * 10
    pieces = connection._pieces(Say(42, ROOM, lines, "<p>big</p>"))
    assert len(pieces) > 1
    assert all(len(body.encode()) <= MESSAGE_BYTES and not html for _, body, html in pieces)
    assert len({transaction for transaction, _, _ in pieces}) == len(pieces)
    assert " ".join(body for _, body, _ in pieces).split() == " ".join(lines).split()


async def test_a_homeserver_that_does_not_listen_is_named_unreachable():
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        homeserver = f"http://127.0.0.1:{placeholder.getsockname()[1]}"
    state = await connection_probe("matrix", {**CONFIG, "homeserver": homeserver}, "x", timeout=10)
    assert state.state == "failing"
    assert state.detail.startswith("homeserver unreachable: "), state.detail
