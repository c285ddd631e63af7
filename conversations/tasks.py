from celery import shared_task

from conversations import services


@shared_task
def memory_entries_purge() -> int:
    return services.memory_entries_purge()


@shared_task
def messages_expired_purge() -> int:
    return services.messages_expired_purge()
