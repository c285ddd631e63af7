"""Use cases of the actions app: queue action runs and execute them exactly once.

One module per concept, the names here for callers:

- `queue`: runs written (`action_runs_build`, `action_runs_store`), handed to the broker
  (`action_runs_enqueue`), enqueued again by the sweeper (`action_runs_sweep`);
- `claims`: whose turn it is in a room, and who owns a run;
- `execution`: running claimed runs and storing their replies (`action_run_execute`,
  `action_runs_execute`), and cheap pure calls inline (`action_calls_run_inline`);
- `questions`: calls waiting for a participant's answer;
- `defaults`: what every new bot starts with (`bot_defaults_install`).
"""

from actions.exceptions import ActionRunRetry
from actions.services.defaults import bot_defaults_install
from actions.services.execution import (
    GENERIC_FAILURE,
    MAX_ATTEMPTS,
    action_calls_run_inline,
    action_run_execute,
    action_runs_execute,
)
from actions.services.questions import pending_actions_purge, pending_call_get, pending_call_save
from actions.services.queue import (
    ETA_MAX_SECONDS,
    action_runs_build,
    action_runs_enqueue,
    action_runs_store,
    action_runs_sweep,
    window_end,
)

__all__ = [
    "ETA_MAX_SECONDS",
    "GENERIC_FAILURE",
    "MAX_ATTEMPTS",
    "ActionRunRetry",
    "action_calls_run_inline",
    "action_run_execute",
    "action_runs_build",
    "action_runs_enqueue",
    "action_runs_execute",
    "action_runs_store",
    "action_runs_sweep",
    "bot_defaults_install",
    "pending_actions_purge",
    "pending_call_get",
    "pending_call_save",
    "window_end",
]
