"""Liveness and readiness probes for load balancers and orchestrators."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from botsite.celery import app as celery_app

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def liveness(request: HttpRequest) -> JsonResponse:
    """The process answers HTTP; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    cache.set("botsite:readyz", "1", timeout=5)
    if cache.get("botsite:readyz") != "1":
        raise RuntimeError("the cache did not return what was just stored")


def _broker() -> None:
    if settings.CELERY_BROKER_URL.startswith("memory://"):
        return  # in-process: ready whenever this process is
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "cache": _cache,
    "broker": _broker,
}


@never_cache
@require_GET
def readiness(request: HttpRequest) -> JsonResponse:
    """Ready when the database, the cache (Redis in production) and the broker answer."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as error:  # any failure means "not ready", reported by name
            logger.warning("readiness check %s failed: %s", name, error)
            results[name] = f"error: {type(error).__name__}"
        else:
            results[name] = "ok"
    is_ready = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if is_ready else "unavailable", "checks": results},
        status=200 if is_ready else 503,
    )
