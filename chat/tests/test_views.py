import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from chat import identity
from conversations.config import bot_config_changed

pytestmark = pytest.mark.django_db


def test_the_chat_page_sets_a_signed_visitor_cookie_once(client, demo_bot):
    first = client.get(reverse("chat", args=["demo"]))
    token = first.cookies[identity.COOKIE_NAME]

    assert first.status_code == 200
    assert token["httponly"]
    assert token["samesite"] == "Lax"
    assert identity.visitor_token_read(token.value)
    assert identity.COOKIE_NAME not in client.get(reverse("chat", args=["demo"])).cookies


def test_the_chat_page_has_a_strict_content_security_policy(client, demo_bot):
    demo_bot.allowed_origins = ["https://shop.example.com"]
    demo_bot.save()

    response = client.get(reverse("chat", args=["demo"]))

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "frame-ancestors 'self' https://shop.example.com" in policy
    assert "X-Frame-Options" not in response, "framing is governed by frame-ancestors"


def test_an_unknown_or_disabled_bot_has_no_chat_page(client, demo_bot):
    demo_bot.is_enabled = False
    demo_bot.save()

    assert client.get(reverse("chat", args=["demo"])).status_code == 404
    assert client.get(reverse("chat", args=["nobody"])).status_code == 404


def test_the_widget_script_is_served_as_javascript(client):
    response = client.get(reverse("widget"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript"
    assert b"/chat/" in b"".join(response.streaming_content)


def test_allowed_origins_must_be_plain_origins(demo_bot):
    demo_bot.allowed_origins = ["https://shop.example.com/path", "shop.example.com"]

    with pytest.raises(ValidationError) as caught:
        demo_bot.full_clean()

    assert "allowed_origins" in caught.value.message_dict


def test_the_chat_page_suggests_help_only_when_the_bot_has_it(client, demo_bot):
    suggested = client.get(reverse("chat", args=["demo"])).content.decode()
    demo_bot.actions.filter(kind="help").update(is_enabled=False)
    bot_config_changed(bot_id=demo_bot.pk)
    bare = client.get(reverse("chat", args=["demo"])).content.decode()

    assert 'placeholder="Say something, or !help"' in suggested
    assert 'placeholder="Say something"' in bare
