"""Services send tasks by name (`botsite.queue`): each name they use is a task the worker
runs, with the arguments the service sends."""

import inspect

import pytest

from actions.services import queue
from botsite.celery import app
from publishers import deliveries, services

SENT_BY_NAME = [
    (queue.RUN_EXECUTE_TASK, 1),
    (queue.RUNS_EXECUTE_TASK, 1),
    (deliveries.POST_DELIVERIES_SEND_TASK, 1),
    (deliveries.DELIVERY_SEND_TASK, 1),
    (services.RUN_TASK, 1),
]


@pytest.mark.parametrize(("name", "arguments"), SENT_BY_NAME)
def test_every_task_a_service_sends_by_name_is_registered_and_takes_what_it_sends(name, arguments):
    app.loader.import_default_modules()  # what a worker imports at its start
    task = app.tasks[name]  # NotRegistered: a name the worker would not know

    parameters = [
        parameter
        for parameter in inspect.signature(task.run).parameters.values()
        if parameter.name != "self"
    ]
    assert len(parameters) == arguments
