"""One-click unsubscribe from the link in every publishing email (RFC 8058)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from publishers import services
from publishers.exceptions import PublishingError
from publishers.models import Subscription


@csrf_exempt  # mail clients POST "List-Unsubscribe=One-Click" with no form or cookie
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (link scanners must not unsubscribe anyone); POST does it."""
    if request.method == "GET":
        subscription = services.subscription_from_token(token=token)
        status = 200 if subscription else 404
        return render(
            request,
            "publishers/unsubscribe.html",
            {"subscription": subscription, "is_done": False},
            status=status,
        )
    try:
        done: Subscription | None = services.subscription_unsubscribe(token=token)
    except PublishingError:
        done = None
    return render(
        request,
        "publishers/unsubscribe.html",
        {"subscription": done, "is_done": done is not None},
        status=200 if done else 404,
    )
