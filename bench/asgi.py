"""The product's ASGI application plus the baseline consumers, on one daphne."""

from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import re_path

from bench.baselines import websocket_urlpatterns
from botsite.asgi import application as product  # sets up Django first

application = ProtocolTypeRouter(
    {
        "http": product,
        "websocket": URLRouter([*websocket_urlpatterns, re_path(r"", product)]),
    }
)
