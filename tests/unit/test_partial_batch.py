"""orders.partial_batch: each record on its own, the failed ones named back, a batch that fails whole is an error."""

from __future__ import annotations

from typing import Any

import pytest

from orders.partial_batch import (
    BatchFailed,
    Record,
    handle_each,
    sqs_message_group,
    sqs_message_id,
    stream_sequence_number,
)


def message(number: int, group: str = "order-1", body: str = "ok") -> dict[str, Any]:
    return {"messageId": f"m{number}", "body": body, "attributes": {"MessageGroupId": group}}


class Handler:
    """Records each record it is given; fails those whose body is "poison"."""

    def __init__(self) -> None:
        self.handled: list[str] = []

    def __call__(self, record: Record) -> None:
        self.handled.append(record["messageId"])
        if record["body"] == "poison":
            raise ValueError("unreadable")


def test_a_failed_record_is_named_and_the_rest_are_handled() -> None:
    handler = Handler()

    response = handle_each([message(1), message(2, body="poison"), message(3)], handler, sqs_message_id)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert handler.handled == ["m1", "m2", "m3"]


def test_a_batch_that_succeeds_names_no_record() -> None:
    assert handle_each([message(1)], Handler(), sqs_message_id) == {"batchItemFailures": []}


def test_an_empty_batch_is_no_failure() -> None:
    """A tumbling window's final invocation may carry no record."""
    assert handle_each([], Handler(), sqs_message_id) == {"batchItemFailures": []}


def test_a_batch_whose_every_record_fails_is_a_function_error() -> None:
    with pytest.raises(BatchFailed) as failed:
        handle_each([message(1, body="poison"), message(2, body="poison")], Handler(), sqs_message_id)

    assert [identifier for identifier, _ in failed.value.failures] == ["m1", "m2"]


def test_a_consumer_may_answer_an_entirely_failed_batch_instead() -> None:
    response = handle_each([message(1, body="poison")], Handler(), sqs_message_id, fail_when_all_fail=False)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_after_a_failure_its_fifo_groups_later_messages_fail_unhandled_and_other_groups_carry_on() -> None:
    handler = Handler()
    batch = [
        message(1, "order-1", "poison"),
        message(2, "order-2"),
        message(3, "order-1"),
        message(4, "order-2"),
    ]

    response = handle_each(batch, handler, sqs_message_id, skip_group_after_failure=sqs_message_group)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}
    assert handler.handled == ["m1", "m2", "m4"]  # m3 is not handled ahead of m1


def test_a_stream_record_is_named_by_its_sequence_number() -> None:
    assert stream_sequence_number({"kinesis": {"sequenceNumber": "49"}}) == "49"
    assert stream_sequence_number({"dynamodb": {"SequenceNumber": "300"}}) == "300"
