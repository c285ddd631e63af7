from django.urls import path

from conversations.consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/<slug:bot_slug>/", ChatConsumer.as_asgi()),
]
