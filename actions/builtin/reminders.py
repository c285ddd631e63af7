"""Reminders: "remind me to stretch in 20 minutes", list them, cancel one."""

from dataclasses import dataclass
from typing import Any

from actions.base import ActionContext, ActionType, SchedulePort
from actions.exceptions import ActionFailed
from actions.registry import action_types
from engine.arguments import DictatedText
from engine.messages import ActionCall, Response
from engine.numbers import duration_text


@dataclass(frozen=True)
class ReminderArgs:
    text: DictatedText


@action_types.register
class ReminderAction(ActionType):
    """Reminds you of something; add "in 20 minutes" to have it said later."""

    key = "reminder"
    label = "Reminder"
    Args = ReminderArgs

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        text = ReminderArgs(**call.arguments).text.strip()
        who = ctx.participant.name if ctx.participant else "everyone"
        return [
            Response(
                text=f"⏰ {who}, you asked me to remind you: {text}",
                template="reminder",
                values={"text": text},
            )
        ]


def _schedule(ctx: ActionContext) -> SchedulePort:
    if ctx.schedule is None:
        raise ActionFailed("reminders are not available here.")
    return ctx.schedule


def _describe(arguments: dict[str, Any], action: str) -> str:
    return str(arguments.get("text") or action)


@action_types.register
class RemindersListAction(ActionType):
    """Lists what you scheduled for later in this room."""

    key = "reminders_list"
    label = "List reminders"

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        upcoming = _schedule(ctx).upcoming()
        if not upcoming:
            return [Response(text="You have nothing scheduled here.", template="reminders_none")]
        lines = [
            f"{number}. {_describe(dict(item.arguments), item.action)} — in "
            f"{duration_text(item.due_in_seconds)}"
            for number, item in enumerate(upcoming, start=1)
        ]
        listing = "\n".join(lines)
        return [Response(text=listing, template="reminders", values={"reminders": listing})]


@dataclass(frozen=True)
class ReminderCancelArgs:
    number: int


@action_types.register
class ReminderCancelAction(ActionType):
    """Cancels one of your scheduled reminders, by its number in the list."""

    key = "reminder_cancel"
    label = "Cancel a reminder"
    Args = ReminderCancelArgs

    def run(self, call: ActionCall, ctx: ActionContext) -> list[Response]:
        number = ReminderCancelArgs(**call.arguments).number
        upcoming = _schedule(ctx).upcoming()
        if not 1 <= number <= len(upcoming):
            raise ActionFailed(f"there is no reminder {number}; you have {len(upcoming)}.")
        item = upcoming[number - 1]
        if not _schedule(ctx).cancel(item.id):
            raise ActionFailed("that one has just run.")
        what = _describe(dict(item.arguments), item.action)
        return [
            Response(
                text=f"Cancelled: {what}.", template="reminder_cancelled", values={"text": what}
            )
        ]
