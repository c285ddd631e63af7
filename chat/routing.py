from django.urls import path

from chat.bridge import BridgeConsumer
from chat.consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/<slug:bot_slug>/", ChatConsumer.as_asgi()),
    path("ws/bridge/", BridgeConsumer.as_asgi()),
]
