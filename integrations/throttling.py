import math
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from conversations.ports import TokenBucketsInCache
from integrations.models import ApiToken


class TokenBucketThrottle(BaseThrottle):
    """Requests per token (or staff user, or address) as a token bucket in the shared cache:
    atomic in Redis across every server process."""

    buckets = TokenBucketsInCache()

    def allow_request(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiToken):
            who = f"token:{request.auth.pk}"
        elif request.user is not None and request.user.is_authenticated:
            who = f"user:{request.user.pk}"
        else:
            who = f"addr:{self.get_ident(request)}"
        return self.buckets.take(
            f"api:{who}",
            capacity=settings.API_THROTTLE_BURST,
            per_second=settings.API_THROTTLE_PER_MINUTE / 60,
        )

    def wait(self) -> float:
        # A refused bucket holds less than one token: the next one is at most this far away.
        return float(math.ceil(60 / settings.API_THROTTLE_PER_MINUTE))
