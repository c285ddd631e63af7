"""Messages past their retention, purged. (A message's way in is `chat/messages.py`.)"""

from django.utils import timezone

from botsite.db import queryset_delete
from conversations.models import Message


def messages_expired_purge() -> int:
    """Delete messages past their retention; returns how many."""
    deleted = queryset_delete(Message.objects.filter(expires_at__lte=timezone.now()))
    return deleted.get(Message._meta.label, 0)
