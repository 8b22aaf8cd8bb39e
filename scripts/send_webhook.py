"""Send the payment webhook the sandbox provider would send for an order: `make webhook ORDER=... OUTCOME=...`.

From the repository root, with the layer on the path as Lambda has it (`make webhook` sets it):

    PYTHONPATH=layer python -m scripts.send_webhook --order ID --outcome succeeded|failed
        [--stack NAME] [--url URL] [--secret-arn ARN | --secret S]
        [--amount N --currency C | --payments-table NAME] [--reason TEXT]

With --stack, the API URL, the secret's ARN and the payments table come from the stack's
outputs (ApiUrl, PaymentWebhookSecretArn, PaymentsTableName); a flag given explicitly wins.
The amount and currency are read from the payments table unless --amount and --currency say them.
The request is built and signed by drivers.payment_provider, which the tests and the console use too.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request

import boto3

from drivers.payment_provider import Delivery, signed_delivery
from orders.payments import PaymentLedger
from orders.webhook import PaymentWebhookType
from scripts.stack_outputs import outputs_of

WEBHOOK_PATH = "/webhooks/payments"
OUTCOMES = {"succeeded": PaymentWebhookType.SUCCEEDED, "failed": PaymentWebhookType.FAILED}


def post(api_url: str, delivery: Delivery) -> tuple[int, str]:
    """POST the delivery to the API; returns the status and the response body."""
    url = api_url.rstrip("/") + WEBHOOK_PATH
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"{url} is not an http(s) URL")
    # The scheme is checked above: urllib would also open file: and custom schemes.
    request = urllib.request.Request(url, delivery.body.encode(), delivery.headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.send_webhook", description="Send a signed payment webhook."
    )
    parser.add_argument("--order", required=True, help="the order id")
    parser.add_argument("--outcome", required=True, choices=sorted(OUTCOMES))
    parser.add_argument("--stack", help="a deployed stack to read the outputs of (default: the local cloud)")
    parser.add_argument("--url", help="the API's base URL (the stack's ApiUrl output)")
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--secret-arn", help="the PaymentWebhookSecret to sign with")
    secret.add_argument("--secret", help="the signing secret itself")
    parser.add_argument("--payments-table", help="where to read the order's amount and currency")
    parser.add_argument("--amount", type=int, help="minor units (cents)")
    parser.add_argument("--currency")
    parser.add_argument("--reason", help="the failure reason (payment.failed only)")
    return parser.parse_args(argv)


def _secret(given: str | None, arn: str | None) -> str | None:
    if given or not arn:
        return given
    return boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    # No stack and no URL: the running local cloud (`make local`).
    outputs = outputs_of(args.stack) if args.stack or not args.url else {}
    url = args.url or outputs.get("ApiUrl")
    table = args.payments_table or outputs.get("PaymentsTableName")
    amount, currency = args.amount, args.currency
    if (amount is None or currency is None) and table:
        payment = PaymentLedger(boto3.client("dynamodb"), table).get(args.order)
        if payment is None:
            print(f"order {args.order} has no payment in {table}: has the saga requested it yet?", file=sys.stderr)
            return 1
        amount, currency = payment.amount, payment.currency
    secret = _secret(args.secret, args.secret_arn or outputs.get("PaymentWebhookSecretArn"))
    if not url or not secret or amount is None or currency is None:
        print(
            "need --url, a secret (--secret or --secret-arn) and --amount with --currency (or a payments table);"
            " --stack reads them from a deployed stack's outputs",
            file=sys.stderr,
        )
        return 2
    delivery = signed_delivery(secret, args.order, OUTCOMES[args.outcome], amount, currency, reason=args.reason)
    status, answer = post(url, delivery)
    print(f"{args.outcome} webhook {delivery.event_id} for order {args.order} -> {status} {answer}")
    return 0 if status == 202 else 1


if __name__ == "__main__":
    sys.exit(main())
