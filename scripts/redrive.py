"""`make redrive QUEUE=<dead-letter queue>`: move its messages back to the queue they failed in.

QUEUE is the template's logical id (PaymentEventsDeadLetterQueue) or a queue URL. Without
--stack it redrives on the running local cloud; with --stack, on that deployed stack. The move
is drivers.redrive's: the calls of SQS's message move task, which moto lacks.
"""

from __future__ import annotations

import argparse
import sys

import boto3

from drivers.redrive import NotADeadLetterQueue, redrive
from scripts.stack_outputs import local_outputs, stack_resource


def _queue_url(queue: str, stack: str | None) -> str:
    if queue.startswith(("http://", "https://")):
        return queue
    if stack:
        return stack_resource(stack, queue)
    sqs = boto3.client("sqs")
    for name in (queue, f"{queue}.fifo"):  # the local cloud names a queue by its logical id
        try:
            return sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            continue
    raise SystemExit(f"no queue {queue} on the local cloud")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.redrive", description=__doc__)
    parser.add_argument("--queue", required=True, help="the dead-letter queue: logical id or URL")
    parser.add_argument("--to", help="the destination queue's URL (default: the queue it is the DLQ of)")
    parser.add_argument("--stack", help="a deployed stack (default: the local cloud)")
    args = parser.parse_args(argv)
    if not args.stack:
        local_outputs()  # points boto3 at the local cloud's moto
    try:
        move = redrive(boto3.client("sqs"), _queue_url(args.queue, args.stack), args.to)
    except NotADeadLetterQueue as error:
        print(error, file=sys.stderr)
        return 2
    print(move)
    return 0 if move.moved == move.to_move else 1


if __name__ == "__main__":
    sys.exit(main())
