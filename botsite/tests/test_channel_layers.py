import asyncio
import threading

from asgiref.sync import async_to_sync

from botsite.channel_layers import LoopBoundInMemoryChannelLayer


def test_a_group_send_from_a_worker_thread_wakes_the_receivers_loop():
    """What the embedded worker does: `async_to_sync(group_send)` from another thread."""
    layer = LoopBoundInMemoryChannelLayer()
    loop_errors: list[dict] = []

    async def consumer() -> dict:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: loop_errors.append(context))
        channel = await layer.new_channel()
        await layer.group_add("room.1", channel)
        worker = threading.Thread(
            target=async_to_sync(layer.group_send), args=("room.1", {"type": "hello"})
        )
        worker.start()
        # Nothing else runs on this loop: the message must arrive by waking it up.
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
        worker.join()
        return message

    loop = asyncio.new_event_loop()
    loop.set_debug(True)  # debug mode raises on non-thread-safe calls into the loop
    try:
        assert loop.run_until_complete(consumer()) == {"type": "hello"}
    finally:
        loop.close()
    assert loop_errors == []


def test_without_a_receiving_loop_operations_run_where_they_are_called():
    layer = LoopBoundInMemoryChannelLayer()

    async def round_trip() -> dict:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "ping"})
        return await layer.receive(channel)

    assert asyncio.run(round_trip()) == {"type": "ping"}
