"""The stock of seed/inventory.json, put into an inventory table through the orders layer's own Inventory.

`make seed` seeds a deployed stack's table (scripts/seed_inventory.py); the local cloud seeds its own when it
starts. Prices are in minor units (cents). Seeding again resets each SKU's stock to the file's figure.
"""

from __future__ import annotations

import json
from pathlib import Path

from orders.inventory import Inventory

SEED_FILE = Path(__file__).resolve().parent.parent / "seed" / "inventory.json"


def seed_inventory(inventory: Inventory, path: Path = SEED_FILE) -> int:
    """Write every SKU of the seed file; returns how many."""
    stock = json.loads(path.read_text())
    for item in stock:
        inventory.put_stock(item["sku"], int(item["available"]), int(item["unitPrice"]))
    return len(stock)
