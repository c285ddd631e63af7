"""Where and when each call the engine decided runs: the one home of that decision.

- **Here, now**, inside the message's own request: calls of a type marked `runs_inline`
  (cheap and pure: `say`, `template_reply`), due at once, while nothing of the room's
  waits before them. Their replies go out with the message's own.
- **On a worker, queued**: every other call, and every call of a room that still waits
  for queued replies (a backlog) or gathers messages in a batching window, so that
  replies come out in the order their messages came in. When a queued call becomes due
  (its delay, the window's end) is set as its run is written
  (`actions.services.action_runs_build`); which room's run goes next is the workers'
  claim (`actions/services/claims.py`).

The engine only says what to call and after what delay (`engine/parse.py`); it never
decides where.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from actions.base import ActionContext
from actions.registry import action_types
from actions.services import action_calls_run_inline
from conversations.models import Room
from engine.messages import ActionCall, Response


@dataclass(frozen=True)
class Dispatch:
    """A message's calls, dispatched: the replies of those run here, the rest queued."""

    responses: list[Response]
    trace: list[dict[str, object]]
    queued: list[ActionCall]


def calls_dispatch(
    calls: Sequence[ActionCall], *, room: Room, has_backlog: bool, ctx: ActionContext
) -> Dispatch:
    """Run here the calls that may run here; queue the others (written with the message)."""
    inline, queued = calls_split(calls, room=room, has_backlog=has_backlog)
    responses, trace = action_calls_run_inline(calls=inline, ctx=ctx)
    trace += [
        {"stage": "execute", "action": call.action.name, "where": "worker", "result": "queued"}
        for call in queued
    ]
    return Dispatch(responses, trace, queued)


def calls_split(
    calls: Sequence[ActionCall], *, room: Room, has_backlog: bool
) -> tuple[list[ActionCall], list[ActionCall]]:
    """The calls to run here, and those to queue, each in the order given."""
    if not calls:
        return [], []
    # In a batching window every call waits for the window, to be answered together.
    waits = has_backlog or bool(room.effective_batch_window_ms)
    inline = [call for call in calls if not waits and _runs_here(call)]
    return inline, [call for call in calls if call not in inline]


def _runs_here(call: ActionCall) -> bool:
    kind = call.action.kind
    return not call.delay_seconds and kind in action_types and action_types.get(kind).runs_inline
