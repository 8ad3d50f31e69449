"""Two identical deliveries at the same moment: exactly one is told it is new.

On PostgreSQL (SQLite serialises writers, so the race cannot happen there): the first delivery's
transaction has inserted its message and not committed yet when the second arrives; the second
must wait for it and answer ``duplicate``. (Once both read "no such key yet" first, then both
inserted with ON CONFLICT DO NOTHING, and both answered ``"duplicate": false`` for one row.)
"""

import threading

import pytest
from django.db import connection, transaction

from apps.ehr.models import InboxMessage
from apps.ehr.services.inbox import inbox_receive

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
PATIENT = {"resourceType": "Patient", "id": "p1", "meta": {"versionId": "1"}, "name": [{"family": "Doe"}]}


def test_two_identical_deliveries_in_flight_together_store_one_row_and_one_is_a_duplicate(ehr_source):
    first_inserted, let_first_commit = threading.Event(), threading.Event()
    answers: dict[str, bool] = {}
    errors: list[BaseException] = []

    def deliver(name: str, *, hold: bool) -> None:
        try:
            with transaction.atomic():
                receipt = inbox_receive(source=ehr_source, body=PATIENT, channel="webhook", process=False)
                answers[name] = receipt.messages[0].duplicate
                if hold:
                    first_inserted.set()
                    let_first_commit.wait(10)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            first_inserted.set()
        finally:
            connection.close()

    first = threading.Thread(target=deliver, args=("first",), kwargs={"hold": True})
    second = threading.Thread(target=deliver, args=("second",), kwargs={"hold": False})
    first.start()
    assert first_inserted.wait(10)
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the second delivery must wait for the first's uncommitted insert"
    let_first_commit.set()
    first.join(10)
    second.join(10)

    assert not errors, errors
    assert answers == {"first": False, "second": True}
    assert InboxMessage.objects.count() == 1
