"""Plugin types from installed packages: pip installs one, Botsite finds it through its
entry point, staff can pick it, and a bot answers with it; a broken one stops start-up."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from botsite.tests.subprocess_env import clean_env, run_manage

PACKAGE = Path(__file__).parent / "plugin_package"

USE_THE_PLUGIN = """
from actions.models import Action, Command
from actions.registry import action_type_choices
from conversations.models import Bot
from chat.messages import message_receive
from engine.messages import InboundMessage

print("choice:", ("shout", "Shout") in action_type_choices())
bot = Bot.objects.create(slug="loud", name="Loud")
action = Action.objects.create(bot=bot, name="shout", kind="shout")
action.full_clean()
Command.objects.create(bot=bot, word="shout", action=action)
receipt = message_receive(inbound=InboundMessage(
    bot_slug="loud", connector="api", room_external_id="r", participant_external_id="p",
    participant_name="Ada", text="!shout hello there",
))
print("reply:", [reply.text for reply in receipt.replies])
"""


@pytest.fixture(scope="module")
def site_packages(tmp_path_factory) -> Path:
    """The package installed by pip into a folder of its own: offline (no index, the
    build backend from this environment), as a wheel would be."""
    target = tmp_path_factory.mktemp("site-packages")
    source = tmp_path_factory.mktemp("source") / "plugin_package"
    shutil.copytree(PACKAGE, source)  # pip builds in place; the repository stays clean
    # Nothing leaves the machine: no index, no build isolation (which would fetch the build
    # backend), no check for a newer pip.
    offline = ["--no-index", "--no-deps", "--no-build-isolation", "--disable-pip-version-check"]
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", *offline, "--target", str(target),
         str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (target / "botsite_shout").is_dir()
    return target


def test_an_installed_packages_action_type_is_offered_to_staff_and_answers(site_packages, tmp_path):
    env = clean_env(PYTHONPATH=str(site_packages), BOTSITE_DATA_DIR=str(tmp_path))
    migrated = run_manage("migrate", "--noinput", "-v", "0", env=env)
    assert migrated.returncode == 0, migrated.stderr

    used = run_manage("shell", "-c", USE_THE_PLUGIN, env=env)

    assert used.returncode == 0, used.stderr
    assert "choice: True" in used.stdout
    assert "reply: ['HELLO THERE']" in used.stdout


def test_without_the_package_the_type_is_not_there(tmp_path):
    env = clean_env(BOTSITE_DATA_DIR=str(tmp_path))
    listed = run_manage(
        "shell", "-c", "from actions.registry import action_types; print('shout' in action_types)",
        env=env,
    )  # fmt: skip

    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip().endswith("False")


BROKEN_PACKAGES = {
    # Two types under one key would make staff's rows mean either.
    "takes a built-in key": (
        "from actions.base import ActionType\n\nclass Plugin(ActionType):\n"
        '    """Another say."""\n\n    key = "say"\n    label = "Say again"\n',
        "key 'say' is taken by SayAction",
    ),
    "cannot be imported": ("import not_installed_anywhere\n", "cannot be loaded"),
    "is of another kind": (
        "from publishers.base import PublisherType\n\nclass Plugin(PublisherType):\n"
        '    """A publisher named as an action."""\n\n    key = "wrong_kind"\n'
        '    label = "Wrong kind"\n',
        "is not a subclass of ActionType",
    ),
}


@pytest.mark.parametrize("case", BROKEN_PACKAGES)
def test_a_broken_plugin_package_stops_start_up_naming_it(case, tmp_path):
    """Running without it would leave the rows that use its type "unavailable"."""
    source, reason = BROKEN_PACKAGES[case]
    target = tmp_path / "site-packages"
    dist = target / "botsite_broken-0.1.0.dist-info"
    dist.mkdir(parents=True)
    # What pip writes for a package declaring this entry point, written here by hand so that
    # it needs no build: importlib.metadata reads the same files.
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: botsite-broken\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[botsite.actions]\nbroken = botsite_broken:Plugin\n")
    (target / "botsite_broken.py").write_text(source)
    env = clean_env(PYTHONPATH=str(target), BOTSITE_DATA_DIR=str(tmp_path / "data"))

    checked = run_manage("check", env=env)

    assert checked.returncode != 0
    assert "action plugin 'broken' of botsite-broken (botsite_broken:Plugin)" in checked.stderr
    assert reason in checked.stderr
