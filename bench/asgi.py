"""The product's ASGI application plus the baselines, on one daphne."""

from typing import Any

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.handlers.asgi import ASGIHandler
from django.urls import re_path

from bench.baselines import websocket_urlpatterns
from botsite.asgi import application as product  # sets up Django first


class BenchHttpHandler(ASGIHandler):
    """Django over HTTP with the bench URLs: the product's, and the bare DRF view (d)."""

    def create_request(self, scope: dict[str, Any], body_file: Any) -> Any:
        request, error = super().create_request(scope, body_file)
        if request is not None:
            request.urlconf = "bench.urls"
        return request, error


application = ProtocolTypeRouter(
    {
        "http": BenchHttpHandler(),
        "websocket": URLRouter([*websocket_urlpatterns, re_path(r"", product)]),
    }
)
