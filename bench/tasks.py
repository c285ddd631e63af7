"""The trivial task of baseline (c); the bench worker imports it with --include."""

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.layers import get_channel_layer


@shared_task(ignore_result=True)
def bench_echo(group: str, text: str) -> None:
    async_to_sync(get_channel_layer().group_send)(group, {"type": "bench.echo", "text": text})
