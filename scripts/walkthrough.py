"""One order through the real handlers on in-process moto, printed step by step.

The closest thing to `make local` until the local cloud serves the API: the template is
provisioned on moto, the functions run in-process with the template's environment, and the
event store stream is delivered to the projector and the publisher as their mappings say.
Run: make walkthrough
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from contextlib import redirect_stdout
from io import StringIO
from typing import Any

from drivers.bus_tap import BusTap
from drivers.sample_events import sample_event
from local_cloud.functions import LocalFunction, load_function
from local_cloud.in_process import in_process_cloud
from local_cloud.streams import StreamMapping


def call(function: LocalFunction, event: dict[str, Any]) -> Any:
    """Invoke quietly: the handlers' JSON logs and metrics go to the Lambda log stream, not this page."""
    with redirect_stdout(StringIO()):
        return function.invoke(event)


def show_api(step: str, function: LocalFunction, event_path: str) -> dict[str, Any]:
    event = sample_event(event_path)
    response = call(function, event)
    body = json.loads(response["body"])
    summary = body.get("status") or body.get("message") or f"{len(body.get('orders', []))} order(s)"
    print(f"{step:<34} {event['httpMethod']:<5} {event['path']:<58} -> {response['statusCode']} {summary}")
    return dict(body)


def show_stream(step: str, mapping: StreamMapping) -> None:
    records = mapping.poll()
    response = call(mapping.function, {"Records": records})
    print(f"{step:<34} {len(records)} stream record(s) -> failures: {response['batchItemFailures']}")


def show_bus(tap: BusTap) -> None:
    for event in tap.drain():
        detail = event["detail"]
        print(f"{'  on the bus':<34} {event['detail-type']:<15} order {detail['orderId']} v{detail['version']}")


def show_consumers(projector: StreamMapping, publisher: StreamMapping, tap: BusTap) -> None:
    show_stream("projector reads the stream", projector)
    show_stream("outbox publisher reads the stream", publisher)
    show_bus(tap)


def main() -> int:
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    with in_process_cloud() as cloud:
        print(f"provisioned from template.yaml: {len(cloud.template.physical_ids)} resources")
        skipped = ", ".join(sorted(set(cloud.not_provisioned.values())))
        print(f"not provisioned on moto: {skipped}")
        print("(the DynamoDB stream mappings are delivered in-process by local_cloud.streams)\n")
        fn = {name: load_function(cloud, name) for name in cloud.template.of_type("AWS::Lambda::Function")}
        projector = StreamMapping.from_template(cloud, fn["ProjectOrdersFunction"])
        publisher = StreamMapping.from_template(cloud, fn["PublishEventsFunction"])
        tap = BusTap(cloud.physical_id("OrdersEventBus"))

        show_api("Alice places an order", fn["PlaceOrderFunction"], "place_order/valid.json")
        show_api("her client retries the request", fn["PlaceOrderFunction"], "place_order/duplicate.json")
        show_api("same key, different body", fn["PlaceOrderFunction"], "place_order/same_key_other_body.json")
        show_api("an invalid body", fn["PlaceOrderFunction"], "place_order/invalid_body.json")
        show_consumers(projector, publisher, tap)
        show_api("Alice reads her order", fn["GetOrderFunction"], "get_order/valid.json")
        show_api("Bob tries to read it", fn["GetOrderFunction"], "get_order/other_customer.json")
        show_api("Alice cancels it", fn["CancelOrderFunction"], "cancel_order/valid.json")
        show_consumers(projector, publisher, tap)
        final = show_api("Alice lists her orders", fn["ListOrdersFunction"], "list_orders/valid.json")
    statuses = [order["status"] for order in final["orders"]]
    print(f"\nfinal state: {statuses}")
    return 0 if statuses == ["CANCELLED"] else 1


if __name__ == "__main__":
    sys.exit(main())
