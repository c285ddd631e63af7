from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from conversations.exceptions import BotNotFound
from conversations.models import Bot
from conversations.services import bot_get_enabled


def home(request: HttpRequest) -> HttpResponse:
    bots = Bot.objects.filter(is_enabled=True).order_by("name")
    return render(request, "conversations/home.html", {"bots": bots})


def chat_page(request: HttpRequest, bot_slug: str) -> HttpResponse:
    try:
        bot = bot_get_enabled(slug=bot_slug)
    except BotNotFound as error:
        raise Http404(error.detail) from error
    # The socket identifies anonymous visitors by their session, so make sure one exists.
    if "webchat" not in request.session:
        request.session["webchat"] = True
    return render(request, "conversations/chat.html", {"bot": bot})
