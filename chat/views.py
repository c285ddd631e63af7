from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt

from actions.selectors import bot_help_command
from chat import identity
from conversations.exceptions import BotNotFound
from conversations.models import Bot
from conversations.services import bot_get_enabled


def home(request: HttpRequest) -> HttpResponse:
    bots = Bot.objects.filter(is_enabled=True).order_by("name")
    return render(request, "chat/home.html", {"bots": bots})


def content_security_policy(request: HttpRequest, frame_ancestors: list[str]) -> str:
    host = request.get_host()
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: https:",
            f"connect-src 'self' ws://{host} wss://{host}",
            "frame-ancestors " + " ".join(["'self'", *frame_ancestors]),
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ]
    )


# Framing is governed by the CSP's frame-ancestors (the bot's allowed sites), not by the
# site-wide X-Frame-Options: DENY.
@xframe_options_exempt
def chat_page(request: HttpRequest, bot_slug: str) -> HttpResponse:
    try:
        bot = bot_get_enabled(slug=bot_slug)
    except BotNotFound as error:
        raise Http404(error.detail) from error
    response = render(
        request,
        "chat/chat.html",
        {
            "bot": bot,
            "help_command": bot_help_command(bot=bot),
            "embedded": request.GET.get("embed") == "1",
            "max_chars": settings.CHAT_MESSAGE_MAX_CHARS,
        },
    )
    response["Content-Security-Policy"] = content_security_policy(request, bot.allowed_origins)
    if identity.visitor_token_read(request.COOKIES.get(identity.COOKIE_NAME)) is None:
        _, token = identity.visitor_token_issue()
        response.set_cookie(
            identity.COOKIE_NAME,
            token,
            max_age=settings.CHAT_VISITOR_MAX_AGE_SECONDS,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


@cache_control(max_age=300, public=True)
def widget_script(request: HttpRequest) -> FileResponse:
    path = finders.find("chat/widget.js")
    if not path:
        raise Http404("widget.js is missing from the static files")
    return FileResponse(open(path, "rb"), content_type="text/javascript")
