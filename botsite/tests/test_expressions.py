import pytest

from botsite.expressions import JSONArrayAppend
from conversations.models import Message
from conversations.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


def test_items_are_added_at_the_end_in_the_database():
    message = MessageFactory(trace=[{"stage": "parse"}])
    step = {"stage": "execute", "action": "latest-post", "ms": 12.5, "note": "déjà “quoted”"}

    Message.objects.filter(pk=message.pk).update(trace=JSONArrayAppend("trace", step))
    Message.objects.filter(pk=message.pk).update(trace=JSONArrayAppend("trace", [1, None]))

    message.refresh_from_db()
    assert message.trace == [{"stage": "parse"}, step, [1, None]]


def test_an_empty_array_gets_its_first_item():
    message = MessageFactory(trace=[])

    Message.objects.filter(pk=message.pk).update(trace=JSONArrayAppend("trace", "first"))

    message.refresh_from_db()
    assert message.trace == ["first"]


def test_only_the_filtered_rows_change():
    changed, untouched = MessageFactory(trace=[]), MessageFactory(trace=["kept"])

    Message.objects.filter(pk=changed.pk).update(trace=JSONArrayAppend("trace", {"n": 1}))

    untouched.refresh_from_db()
    assert untouched.trace == ["kept"]
