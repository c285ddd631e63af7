import sqlite3

import psycopg
import pytest
from django.db import InterfaceError, OperationalError, ProgrammingError
from psycopg_pool import PoolTimeout

from botsite.database_outage import is_database_outage
from botsite.tests.processes import free_port


def wrapped(error: Exception, kind: type[Exception] = OperationalError) -> Exception:
    """`error` as Django's database wrapper raises it (the driver's error as its cause)."""
    try:
        raise kind(*error.args) from error
    except kind as django_error:
        return django_error


def refused_connection_error() -> psycopg.OperationalError:
    try:
        psycopg.connect(f"postgres://postgres@127.0.0.1:{free_port()}/none", connect_timeout=2)
    except psycopg.OperationalError as error:
        return error
    raise AssertionError("a connection to a closed port succeeded")


def test_a_refused_connection_and_a_pool_timeout_are_an_outage():
    assert is_database_outage(wrapped(refused_connection_error()))
    assert is_database_outage(wrapped(PoolTimeout("couldn't get a connection after 1.00 sec")))


def test_a_server_shutting_down_and_a_closed_connection_are_an_outage():
    assert is_database_outage(wrapped(psycopg.errors.AdminShutdown("terminating connection")))
    assert is_database_outage(wrapped(psycopg.errors.CannotConnectNow("starting up")))
    assert is_database_outage(wrapped(psycopg.InterfaceError("closed"), InterfaceError))


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        sqlite3.OperationalError("no such table: conversations_bot"),
    ],
)
def test_a_failing_query_on_a_working_database_is_no_outage(error):
    assert not is_database_outage(wrapped(error))


def test_errors_that_are_not_about_the_database_at_all_are_no_outage():
    assert not is_database_outage(ValueError("bad"))
    assert not is_database_outage(wrapped(psycopg.errors.UndefinedTable("x"), ProgrammingError))
