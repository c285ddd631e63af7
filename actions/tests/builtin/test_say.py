import pytest
from django.core.exceptions import ValidationError

from actions.base import ActionContext
from actions.builtin.say import SayAction
from engine.messages import ActionCall
from engine.tests import snapshots


def test_say_answers_its_configured_text():
    ctx = ActionContext(bot=snapshots.bot(), room=snapshots.DIRECT_ROOM, participant=None)
    call = ActionCall(action=snapshots.action("hello", kind="say"), arguments={}, source="test")

    [response] = SayAction({"text": "Hello!"}).run(call, ctx)

    assert response.text == "Hello!"


@pytest.mark.parametrize("config", [{}, {"text": ""}, {"text": "x" * 4001}])
def test_say_refuses_a_config_without_a_usable_text(config):
    with pytest.raises(ValidationError):
        SayAction.config_clean(config)
