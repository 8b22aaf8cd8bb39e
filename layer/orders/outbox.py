"""The outbox publisher's half of the domain: stored events onto the EventBridge bus."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orders.event_store import event_from_stream_record
from orders.events import DomainEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

PUT_EVENTS_MAX_ENTRIES = 10


class EventPublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str, source: str) -> None:
        self._client = client
        self._bus_name = bus_name
        self._source = source

    def entry(self, event: DomainEvent) -> PutEventsRequestEntryTypeDef:
        return {
            "EventBusName": self._bus_name,
            "Source": self._source,
            "DetailType": event.type.value,
            "Detail": json.dumps(event.envelope()),
        }

    def publish(self, events: Sequence[DomainEvent]) -> list[DomainEvent]:
        """Put every event on the bus; returns the ones EventBridge reported as failed."""
        failed: list[DomainEvent] = []
        for start in range(0, len(events), PUT_EVENTS_MAX_ENTRIES):
            chunk = events[start : start + PUT_EVENTS_MAX_ENTRIES]
            response = self._client.put_events(Entries=[self.entry(event) for event in chunk])
            if response.get("FailedEntryCount", 0):
                # Result entries line up with request entries; a failed one carries an ErrorCode.
                failed.extend(
                    event for event, result in zip(chunk, response["Entries"], strict=True) if "ErrorCode" in result
                )
        return failed


@dataclass(frozen=True)
class BatchOutcome:
    published: int
    retry: list[str]  # sequence numbers of the records to deliver again


def publish_stream_records(publisher: EventPublisher, records: Sequence[dict[str, Any]]) -> BatchOutcome:
    """Publish the events a DynamoDB Streams batch carries.

    An unreadable record or a rejected entry is retried, never dropped: Lambda redelivers
    from it, and after the mapping's retries it lands in the on-failure destination.
    """
    retry: list[str] = []
    sequence_of: dict[str, str] = {}
    readable: list[DomainEvent] = []
    for record in records:
        sequence_number = record["dynamodb"]["SequenceNumber"]
        try:
            event = event_from_stream_record(record)
        except (KeyError, ValueError):
            retry.append(sequence_number)
            continue
        sequence_of[event.event_id] = sequence_number
        readable.append(event)
    rejected = publisher.publish(readable)
    retry.extend(sequence_of[event.event_id] for event in rejected)
    return BatchOutcome(published=len(readable) - len(rejected), retry=retry)
