import pytest
from django.contrib.auth import get_user_model

from actions.models import Action, Command
from botsite.demo import demo_admin_ensure, demo_install
from conversations.models import Bot, BotMiddleware
from publishers.models import Post, Publisher

pytestmark = pytest.mark.django_db

DEMO_MODELS = [Bot, BotMiddleware, Action, Command, Publisher, Post]


def test_installing_the_demo_twice_creates_it_once():
    demo_install()
    counts = {model.__name__: model.objects.count() for model in DEMO_MODELS}

    demo_install()

    assert {model.__name__: model.objects.count() for model in DEMO_MODELS} == counts
    assert counts == {
        "Bot": 1,
        "BotMiddleware": 1,
        "Action": 3,
        "Command": 3,
        "Publisher": 1,
        "Post": 1,
    }


def test_reinstalling_keeps_what_staff_changed():
    bot = demo_install()
    bot.name = "Renamed by staff"
    bot.save()

    assert demo_install().name == "Renamed by staff"


def test_the_admin_password_is_random_private_and_repeated_while_it_works(settings, tmp_path):
    settings.DATA_DIR = tmp_path

    first = demo_admin_ensure()
    again = demo_admin_ensure()

    assert first.is_new
    assert not again.is_new
    assert len(first.password) >= 16
    assert again.password == first.password
    assert oct(first.password_file.stat().st_mode & 0o777) == "0o600"
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser
    assert user.check_password(first.password)

    user.set_password("chosen by the operator")
    user.save()
    assert demo_admin_ensure().password is None


def test_each_installation_gets_its_own_admin_password(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "one"
    one = demo_admin_ensure().password
    get_user_model().objects.all().delete()
    settings.DATA_DIR = tmp_path / "two"

    assert demo_admin_ensure().password != one
