"""The local cloud's demo account: customers who can sign in at once, and the inventory's stock.

`make local` seeds both when it starts, through the same AWS APIs a deployed stack is seeded with
(drivers.customers, drivers.seed); the demo customers' passwords exist only on moto.
"""

from __future__ import annotations

import boto3

from drivers.customers import DemoCustomer, DemoLogin, seed_customer, sign_in
from drivers.seed import seed_inventory
from local_cloud.cloud import Cloud
from local_cloud.cognito import user_pool_client_id, user_pool_id
from orders.inventory import Inventory

# Passwords meet the template's policy (12+ characters, upper, lower and a digit).
DEMO_CUSTOMERS: dict[str, DemoLogin] = {
    "alice": DemoLogin(email="alice@example.com", password="AliceLocalDemo2026"),  # noqa: S106 - local demo password
    "bob": DemoLogin(email="bob@example.com", password="BobLocalDemo2026x"),  # noqa: S106 - local demo password
}


def seed_demo_customers(cloud: Cloud) -> dict[str, DemoCustomer]:
    """DEMO_CUSTOMERS as confirmed users of the template's pool, by name ("alice", "bob"). Safe to run again."""
    pool_id = user_pool_id(cloud)
    return {name: seed_customer(pool_id, login) for name, login in DEMO_CUSTOMERS.items()}


def id_token(cloud: Cloud, username: str, password: str) -> str:
    """Sign in as a client app does, with the template's app client, and keep the ID token."""
    return sign_in(user_pool_client_id(cloud), username, password)


def seed_demo_stock(cloud: Cloud) -> int:
    """seed/inventory.json's stock in the template's inventory table; how many SKUs."""
    return seed_inventory(Inventory(boto3.client("dynamodb"), cloud.physical_id("InventoryTable")))
