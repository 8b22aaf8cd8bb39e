"""Copy schemas/<Type>.json into the template's <Type>Schema registry resources.

`schemas/` is what the tests validate emitted events against; the template registers the
same text in the EventBridge schema registry. tests/unit/test_contracts.py fails when they differ.
Run: .venv/bin/python -m scripts.sync_schemas
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
CONTENT_INDENT = " " * 8


def schema_block(schema_file: Path) -> str:
    text = json.dumps(json.loads(schema_file.read_text()), indent=2)
    return "".join(f"{CONTENT_INDENT}{line}\n" for line in text.splitlines())


def sync(template_text: str) -> str:
    for schema_file in sorted((ROOT / "schemas").glob("*.json")):
        # The block scalar runs from `Content: |` to the next line indented less than its body.
        pattern = re.compile(
            rf"(  {schema_file.stem}Schema:\n(?:    .*\n)*?      Content: \|\n)((?:{CONTENT_INDENT}.*\n)+)"
        )
        replacement = r"\g<1>" + schema_block(schema_file).replace("\\", "\\\\")  # keep JSON's backslashes literal
        template_text, count = pattern.subn(replacement, template_text)
        if count != 1:
            raise SystemExit(f"template.yaml has no {schema_file.stem}Schema resource with a Content block")
    return template_text


if __name__ == "__main__":
    TEMPLATE.write_text(sync(TEMPLATE.read_text()))
