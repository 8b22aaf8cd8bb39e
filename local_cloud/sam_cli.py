"""The SAM CLI's own virtualenv (.venv-sam), and the SAM transform run by its interpreter.

aws-sam-cli pins aws-sam-translator exactly, and that translator pins pydantic to an older minor release
than the layer ships (requirements-sam.in). So the SAM CLI lives in .venv-sam (`make install`), the test
process keeps the layer's pydantic, and the local cloud has the template translated there, in a subprocess
(local_cloud/sam_translate.py): the same translator `sam build` and `sam deploy` use. Each translation is
kept on disk, keyed by what was translated and by the translator's version, so a test session's workers
and `make local` pay it once per change of the template.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAM_VENV = ROOT / ".venv-sam"
SAM = SAM_VENV / "bin" / "sam"
SAM_PYTHON = SAM_VENV / "bin" / "python"
TRANSLATE = Path(__file__).with_name("sam_translate.py")
CACHE = ROOT / ".local" / "sam-transform"
CACHE_KEEPS = 32  # translations, the most recently used: a template edited all day does not fill the disk


class SamTransformFailed(RuntimeError):
    """The SAM translator refused the template; the message is its own."""


def translator_version() -> str:
    """The version of aws-sam-translator in .venv-sam, read from its metadata (no interpreter started)."""
    found = sorted(SAM_VENV.glob("lib/python*/site-packages/aws_sam_translator-*.dist-info"))
    if not found or not SAM_PYTHON.exists():
        raise FileNotFoundError(f"{SAM_VENV} holds no SAM translator: run `make install`")
    return found[-1].name.removeprefix("aws_sam_translator-").removesuffix(".dist-info")


def transform(sam_template: dict[str, Any], parameters: dict[str, Any], region: str) -> dict[str, Any]:
    """`sam_template` as CloudFormation after the SAM transform, with these parameter values, in `region`."""
    request = json.dumps({"template": sam_template, "parameters": parameters, "region": region}, sort_keys=True)
    key = hashlib.sha256(f"{translator_version()}\n{request}".encode()).hexdigest()
    cached = CACHE / f"{key}.json"
    try:
        translated: dict[str, Any] = json.loads(cached.read_text())
    except FileNotFoundError:
        pass
    else:
        os.utime(cached)  # recently used: kept when older translations are pruned
        return translated
    ran = subprocess.run(  # noqa: S603 - .venv-sam's interpreter running our translation script
        [SAM_PYTHON, "-I", TRANSLATE], input=request, capture_output=True, text=True, check=False
    )
    if ran.returncode != 0:
        raise SamTransformFailed(ran.stderr.strip() or f"{TRANSLATE.name} exited with {ran.returncode}")
    translated = json.loads(ran.stdout)
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.partial")  # another process never reads half a file
    partial.write_text(ran.stdout)
    partial.replace(cached)
    for stale in sorted(CACHE.glob("*.json"), key=lambda path: path.stat().st_mtime_ns)[:-CACHE_KEEPS]:
        stale.unlink(missing_ok=True)
    return translated
