from actions.base import ActionContext
from actions.builtin.help import HelpAction
from engine.messages import ActionCall, ParticipantInfo, TrustLevel
from engine.tests import snapshots


def help_for(trust_level: int) -> str:
    bot = snapshots.bot(
        commands={
            word: command
            for word, command in snapshots.bot().commands.items()
            if word in {"repeat", "admin"}
        }
    )
    ctx = ActionContext(
        bot=bot,
        room=snapshots.DIRECT_ROOM,
        participant=ParticipantInfo(id=1, name="Ada", trust_level=trust_level),
    )
    call = ActionCall(action=snapshots.action("help", kind="help"), arguments={}, source="test")
    [response] = HelpAction({}).run(call, ctx)
    return response.text


def test_help_lists_the_commands_a_participant_may_use():
    assert help_for(TrustLevel.VISITOR) == "Test bot understands these commands:\n!repeat — repeat"
    assert "!admin" in help_for(TrustLevel.TRUSTED)


def test_help_without_usable_commands_says_so():
    bot = snapshots.bot(commands={})
    ctx = ActionContext(bot=bot, room=snapshots.DIRECT_ROOM, participant=None)
    call = ActionCall(action=snapshots.action("help", kind="help"), arguments={}, source="test")

    [response] = HelpAction({}).run(call, ctx)

    assert response.text == "Test bot has no commands you can use yet."
