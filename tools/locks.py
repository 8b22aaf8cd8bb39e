"""Reading the pip-compile lock files (requirements*.txt, layer/requirements.txt): each package's pin and hashes.

`make lock` writes them from the requirements*.in beside them; `make install` and the layer's build install
them with `pip install --require-hashes`. This module only reads them (the benchmark and the tests do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# A lock's entry: "name==version [; marker] \" followed by indented "--hash=sha256:..." lines and "# via" comments.
PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")
HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


@dataclass(frozen=True)
class LockedPackage:
    name: str  # canonical (PEP 503): lower case, runs of -_. as one -
    version: str
    marker: str | None
    hashes: tuple[str, ...]
    text: str  # the entry as a requirements file line: pin, marker and hashes, without comments


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_packages(lock: Path) -> dict[str, LockedPackage]:
    """Every package a lock pins, by canonical name."""
    packages: dict[str, LockedPackage] = {}
    for block in re.split(r"\n(?=\S)", lock.read_text()):
        lines = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        if not lines:
            continue
        pin = PIN.match(lines[0])
        if pin is None:
            raise ValueError(f"{lock}: not a pinned requirement: {lines[0]!r}")
        name = canonical_name(pin["name"])
        hashes = tuple(match for line in lines[1:] for match in HASH.findall(line))
        packages[name] = LockedPackage(name, pin["version"], pin["marker"], hashes, "\n".join(lines) + "\n")
    return packages
