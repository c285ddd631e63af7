import pytest
from django.core.exceptions import ValidationError

from actions.base import ActionContext
from actions.builtin.template_reply import TemplateReplyAction
from engine.messages import ActionCall, ParticipantInfo
from engine.tests import snapshots


def test_the_reply_names_its_template_and_fills_its_default_text():
    ctx = ActionContext(
        bot=snapshots.bot(),
        room=snapshots.DIRECT_ROOM,
        participant=ParticipantInfo(id=1, name="Ada", trust_level=0),
    )
    call = ActionCall(
        action=snapshots.action("greet", kind="template_reply"),
        arguments={"text": "good morning"},
        source="test",
    )

    [response] = TemplateReplyAction(
        {"template": "greeting", "text": "Hi {participant}: {text}"}
    ).run(call, ctx)

    assert response.text == "Hi Ada: good morning"
    assert response.template == "greeting"
    assert response.values["text"] == "good morning"


def test_a_default_text_with_code_is_refused():
    with pytest.raises(ValidationError):
        TemplateReplyAction.config_clean({"template": "x", "text": "{participant.__dict__}"})
