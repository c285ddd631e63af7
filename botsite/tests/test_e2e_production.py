"""The production topology: daphne, `celery worker` and `celery beat` as separate processes
on PostgreSQL and Redis, talked to as a client would."""

import pytest
from websockets.exceptions import ConnectionClosed

from actions.models import Action, ActionRun
from botsite.tests.processes import bot_says, chat_socket, read_until_closed, receive_until
from conversations.models import Room

pytestmark = [pytest.mark.e2e, pytest.mark.services]


def test_separate_processes_answer_a_chat_through_the_worker_and_beat_fires(topology):
    port, worker = topology.port, topology.worker

    with chat_socket(port) as chat:
        chat.send('{"type": "message", "text": "!help"}')
        reply = receive_until(chat, bot_says("!ping — Answers pong."), timeout=30)
        assert reply["sender"] == {"kind": "bot", "name": "Demo bot"}
        assert "action_runs_execute" in worker.log(), "the reply came from the worker process"

        chat.send('{"type": "message", "text": "get me the three most recent posts about golang"}')
        reply = receive_until(chat, bot_says("Range-over-func iterators in Go"), timeout=30)
        assert reply["text"].splitlines()[1] == "• Generics in Go, two years on"

        # A run whose broker message was lost reaches the worker through beat's sweeper.
        room = Room.objects.get(bot__slug="demo")
        ping = Action.objects.get(bot__slug="demo", name="ping")
        lost = ActionRun.objects.create(bot=room.bot, room=room, action=ping, action_name="ping")
        receive_until(chat, bot_says("pong"), timeout=45)

    lost.refresh_from_db()
    assert lost.status == ActionRun.Status.SUCCEEDED
    assert "enqueueing 1 due or stuck action runs" in worker.log()  # beat's sweeper


def test_the_rest_endpoint_waits_for_the_workers_reply(topology):
    answer = topology.message_post("!latest-post", "crm-7", wait=20)

    assert answer.status_code == 200, answer.text
    assert answer.json()["replies"][0]["text"] == "• Schedules that survive restarts"


def test_daphne_closes_a_socket_that_sends_an_oversized_frame_with_1009(topology):
    with chat_socket(topology.port) as chat:
        chat.send('{"type": "hello"}')
        chat.send("x" * 100_000)
        with pytest.raises(ConnectionClosed) as closed:
            read_until_closed(chat)

    assert closed.value.rcvd.code == 1009


def test_http_requests_share_pooled_connections_instead_of_leaving_one_open_each(topology):
    """daphne runs each request's sync code on a thread of its own; persistent connections
    stayed open after their thread was gone, and API load used up PostgreSQL's clients."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def post(n: int) -> int:
        return topology.message_post("!ping", f"load-{n % 10}").status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(post, range(300)))

    assert statuses == [200] * 300
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
            [connection.settings_dict["NAME"]],
        )
        [(open_connections,)] = cursor.fetchall()
    # daphne's pool (at most 20), the worker's and beat's few, and this test's own.
    assert open_connections <= 30, open_connections
