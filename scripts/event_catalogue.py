"""Write stacks/event-catalogue.yaml from the event records in layer/orders/event_data.py (tools/event_catalogue.py).

Run: make schemas
"""

from __future__ import annotations

from orders.events import EventType
from tools.event_catalogue import CATALOGUE, ROOT, catalogue


def main() -> None:
    CATALOGUE.write_text(catalogue())
    print(f"wrote {CATALOGUE.relative_to(ROOT)} ({len(EventType)} schemas)")


if __name__ == "__main__":
    main()
