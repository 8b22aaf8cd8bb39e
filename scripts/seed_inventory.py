"""Put the stock of seed/inventory.json into the inventory table: `make seed` (deployed) or the local cloud.

Usage: python -m scripts.seed_inventory [--stack <stack name> | --table <InventoryTable name>]
(neither: the running local cloud, `make local`)
Prices are in minor units (cents). Seeding again resets each SKU's stock to the file's figure.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import boto3

from drivers.seed import SEED_FILE, seed_inventory
from orders.inventory import Inventory
from scripts.stack_outputs import outputs_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--table", help="the InventoryTable's name")
    target.add_argument("--stack", help="a deployed stack: its InventoryTableName output names the table")
    # Neither: the running local cloud's table.
    parser.add_argument("--file", type=Path, default=SEED_FILE)
    arguments = parser.parse_args()
    table = arguments.table or outputs_of(arguments.stack)["InventoryTableName"]
    count = seed_inventory(Inventory(boto3.client("dynamodb"), table), arguments.file)
    print(f"seeded {count} SKUs into {table}")


if __name__ == "__main__":
    main()
