import pytest
from django.contrib.auth import get_user_model

from actions.models import Action, ActionRun, Command, Pattern, ResponseTemplate
from actions.services import action_run_execute
from chat.demo import admin_password_file, demo_admin_ensure, demo_install
from chat.messages import message_receive
from conversations.models import Bot, BotMiddleware
from conversations.tests.factories import inbound_message
from publishers.models import Post, Publisher

pytestmark = pytest.mark.django_db

DEMO_MODELS = [Bot, BotMiddleware, Action, Command, Pattern, ResponseTemplate, Publisher, Post]


def test_installing_the_demo_twice_creates_it_once():
    demo_install()
    counts = {model.__name__: model.objects.count() for model in DEMO_MODELS}

    demo_install()

    assert {model.__name__: model.objects.count() for model in DEMO_MODELS} == counts
    assert counts == {
        "Bot": 1,
        "BotMiddleware": 1,
        "Action": 19,
        "Command": 19,
        "Pattern": 5,
        "ResponseTemplate": 4,
        "Publisher": 1,
        "Post": 7,
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


def ask(text: str):
    """Send a sentence to the demo bot as a web chat visitor; return the queued run."""
    receipt = message_receive(
        inbound=inbound_message(text, room_external_id="group", is_direct=False)
    )
    return receipt, ActionRun.objects.filter(message_id=receipt.message.id).first()


@pytest.mark.parametrize(
    ("text", "arguments"),
    [
        ("!latest-post", {}),
        ("Hey bot, get me the three most recent posts", {"limit": 3}),
        ("Hey bot, get me the 6th most recent post", {"limit": 1, "offset": 5}),
        ("Hey bot, get me the most recent post about golang", {"limit": 1, "tag": "golang"}),
        ("hey bot get me the twelve latest posts about python", {"limit": 12, "tag": "python"}),
        ("Bot, get me the second newest post", {"limit": 1, "offset": 1}),
        (
            "hey bot, get me the twenty-first most recent post about go",
            {"limit": 1, "offset": 20, "tag": "go"},
        ),
        ("Hey bot, get me the 2 most recent posts about django", {"limit": 2, "tag": "django"}),
    ],
)
def test_the_demo_bot_understands_dwaynebots_latest_post_sentences(text, arguments):
    demo_install()

    _, run = ask(text)

    assert run is not None, f"no action call for {text!r}"
    assert (run.action_name, run.arguments) == ("latest-post", arguments)


# DwayneBot's four sentences as its description writes them, punctuation and all.
SEED_SENTENCES = [
    ("!latest-post", {}, "• Schedules that survive restarts"),
    (
        "Hey bot, get me the three most recent posts.",
        {"limit": 3},
        "• Schedules that survive restarts\n"
        "• Why we match staff patterns with RE2\n"
        "• Live chat with Django Channels",
    ),
    (
        "Hey bot, get me the 6th most recent post.",
        {"limit": 1, "offset": 5},
        "• Generics in Go, two years on",
    ),
    (
        "Hey bot, get me the most recent post about golang.",
        {"limit": 1, "tag": "golang"},
        "• Range-over-func iterators in Go",
    ),
]


@pytest.mark.parametrize(("text", "arguments", "answer"), SEED_SENTENCES)
def test_the_seeds_four_sentences_work_verbatim(text, arguments, answer):
    demo_install()

    _, run = ask(text)

    assert (run.action_name, run.arguments) == ("latest-post", arguments)
    [reply] = action_run_execute(run_id=run.pk)
    assert reply.text == answer


def test_the_demo_bot_answers_latest_post_sentences_with_the_right_posts():
    demo_install()

    def answer(text: str) -> str:
        _, run = ask(text)
        [reply] = action_run_execute(run_id=run.pk)
        return reply.text

    assert answer("!latest-post") == "• Schedules that survive restarts"
    assert answer("hey bot, get me the three most recent posts") == (
        "• Schedules that survive restarts\n"
        "• Why we match staff patterns with RE2\n"
        "• Live chat with Django Channels"
    )
    assert answer("hey bot, get me the 6th most recent post") == "• Generics in Go, two years on"
    assert answer("hey bot, get me the most recent post about golang") == (
        "• Range-over-func iterators in Go"
    )
    assert answer("hey bot, get me the most recent post about rust") == (
        "I found no posts about rust."
    )


def test_help_lists_commands_and_the_sentences_the_demo_bot_understands():
    demo_install()
    _, run = ask("!help")

    [reply] = action_run_execute(run_id=run.pk)

    assert "!latest-post — Shows the most recent posts." in reply.text
    assert "“get me the 6th most recent post”" in reply.text


def test_the_demos_rows_pass_the_checks_staff_edits_go_through():
    demo_install()

    for model in (Action, Command, Pattern, ResponseTemplate, BotMiddleware):
        for row in model.objects.all():
            row.full_clean()


def test_another_databases_admin_leaves_the_embedded_runs_password_file_alone(settings, tmp_path):
    """`python -m bench.run` set up its PostgreSQL admin with the checkout's data dir and
    overwrote `admin-password`: the login `make run` showed stopped working."""
    settings.DATA_DIR = tmp_path
    embedded = tmp_path / "admin-password"
    embedded.write_text("the embedded run's password\n")

    login = demo_admin_ensure()  # on the test database, not the embedded run's

    assert embedded.read_text() == "the embedded run's password\n"
    assert login.password_file.parent == tmp_path
    assert login.password_file.read_text().strip() == login.password


def test_the_embedded_database_keeps_its_password_in_admin_password_and_others_their_own(
    settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    sqlite = "django.db.backends.sqlite3"
    postgres = "django.db.backends.postgresql"

    def file_of(**database: object) -> str:
        return admin_password_file({"HOST": "", "PORT": "", **database}).name

    assert file_of(ENGINE=sqlite, NAME=tmp_path / "botsite.sqlite3") == "admin-password"
    assert file_of(ENGINE=sqlite, NAME=tmp_path / "other.sqlite3") != "admin-password"
    bench = file_of(ENGINE=postgres, NAME="botsite_bench", HOST="127.0.0.1", PORT=5432)
    assert bench == "admin-password-127.0.0.1-5432-botsite_bench"
    assert file_of(ENGINE=postgres, NAME="botsite", HOST="db", PORT=5432) != bench
