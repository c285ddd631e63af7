"""ASGI entry point: HTTP through Django, WebSocket through Channels with sessions and auth."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "botsite.settings")

# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from daphne.http_protocol import WebRequest  # noqa: E402
from daphne.ws_protocol import WebSocketFactory  # noqa: E402

from botsite.client_address import ClientAddressMiddleware  # noqa: E402
from botsite.database_outage import WebSocketOutageGuard  # noqa: E402
from botsite.request_limits import RequestBodyLimitMiddleware, refuse_oversized_bodies  # noqa: E402
from botsite.websocket_limits import close_oversized_frames_cleanly  # noqa: E402

close_oversized_frames_cleanly(WebSocketFactory)
refuse_oversized_bodies(WebRequest)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402

application = ClientAddressMiddleware(
    ProtocolTypeRouter(
        {
            "http": RequestBodyLimitMiddleware(django_asgi_app),
            # Origins are checked per bot by the chat consumer: the site's own hosts, plus
            # the sites staff allow to embed that bot's widget.
            "websocket": WebSocketOutageGuard(
                AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)

# Everything loaded so far (Django, the apps, their modules: some 150,000 objects) lives as
# long as the process. Moved out of the collector's sight, it no longer makes each full
# collection stop the event loop, and every socket on it, for 60-90 ms (BENCHMARKS.md).
gc.collect()
gc.freeze()
