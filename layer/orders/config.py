"""The one place that reads configuration: environment variables set by template.yaml."""

import os
from enum import StrEnum


class Setting(StrEnum):
    """Every variable the functions read; each one is set by the template."""

    EVENT_STORE_TABLE = "EVENT_STORE_TABLE"
    ORDERS_TABLE = "ORDERS_TABLE"
    ORDERS_BY_CUSTOMER_INDEX = "ORDERS_BY_CUSTOMER_INDEX"
    IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
    EVENT_BUS_NAME = "EVENT_BUS_NAME"
    EVENT_SOURCE = "EVENT_SOURCE"
    INVENTORY_TABLE = "INVENTORY_TABLE"
    PAYMENTS_TABLE = "PAYMENTS_TABLE"
    ANALYTICS_TABLE = "ANALYTICS_TABLE"
    ORDERS_BY_STATUS_INDEX = "ORDERS_BY_STATUS_INDEX"
    PAYMENT_EVENTS_QUEUE_URL = "PAYMENT_EVENTS_QUEUE_URL"
    WEBHOOK_SECRET_ARN = "WEBHOOK_SECRET_ARN"  # noqa: S105 - the name of a variable, not a secret
    ORDER_DEADLINE_MINUTES = "ORDER_DEADLINE_MINUTES"
    FULFILMENT_STATE_MACHINE_ARN = "FULFILMENT_STATE_MACHINE_ARN"
    EVENT_ARCHIVE_RETENTION_DAYS = "EVENT_ARCHIVE_RETENTION_DAYS"
    SALES_PER_MINUTE_TABLE = "SALES_PER_MINUTE_TABLE"
    SALES_BY_DAY_INDEX = "SALES_BY_DAY_INDEX"


class ConfigurationError(RuntimeError):
    """A setting the function needs is missing: the template and the code disagree."""


def setting(name: Setting) -> str:
    value = os.environ.get(name.value, "")
    if not value:
        raise ConfigurationError(f"environment variable {name.value} is not set")
    return value


def running_in_sam_local() -> bool:
    """True only under `sam local`, which sets AWS_SAM_LOCAL; never true in a deployed function."""
    return os.environ.get("AWS_SAM_LOCAL") == "true"
