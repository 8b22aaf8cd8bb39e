"""Write openapi.json and layer/orders/api_schemas.json from the API's pydantic models (tools/openapi.py).

Run: `make openapi` (PYTHONPATH=layer .venv/bin/python -m scripts.openapi)
"""

from __future__ import annotations

from tools.openapi import write

if __name__ == "__main__":
    for path in write():
        print(f"wrote {path}")
