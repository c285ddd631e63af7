from django.urls import path

from chat.consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/<slug:bot_slug>/", ChatConsumer.as_asgi()),
]
