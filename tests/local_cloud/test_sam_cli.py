"""The local cloud's SAM transform runs in the SAM CLI's virtualenv, apart from the layer's pydantic, once per input."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local_cloud import sam_cli

PROPERTIES = {"Runtime": "python3.13", "Handler": "app.handler"}
FUNCTION: dict[str, Any] = {"Type": "AWS::Serverless::Function", "Properties": PROPERTIES}
SAM_TEMPLATE: dict[str, Any] = {
    "Transform": "AWS::Serverless-2016-10-31",
    "Parameters": {"Memory": {"Type": "Number"}},
    "Resources": {"Fn": FUNCTION | {"Properties": PROPERTIES | {"CodeUri": "s3://local-code/fn"}}},
}


@pytest.fixture
def translations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The translator runs of the test, each as its command; the cache in a folder of the test's own."""
    monkeypatch.setattr(sam_cli, "CACHE", tmp_path)
    runs: list[list[str]] = []
    real_run = subprocess.run

    def counted(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        runs.append([str(part) for part in command])
        return real_run(command, **options)

    monkeypatch.setattr(subprocess, "run", counted)  # sam_cli calls subprocess.run
    return runs


def test_the_sam_clis_python_translates_outside_the_test_process(
    translations: list[list[str]],
) -> None:
    translated = sam_cli.transform(SAM_TEMPLATE, {"Memory": 256}, "us-east-1")

    assert translated["Resources"]["Fn"]["Type"] == "AWS::Lambda::Function"
    assert translated["Resources"]["FnRole"]["Type"] == "AWS::IAM::Role"
    assert [run[0] for run in translations] == [str(sam_cli.SAM_PYTHON)]
    # Not importable here: the translator (and its pydantic pin) stays out of the virtualenv the tests run in.
    assert importlib.util.find_spec("samtranslator") is None


def test_a_translation_is_paid_once_per_input_and_translator_version(
    translations: list[list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = sam_cli.transform(SAM_TEMPLATE, {"Memory": 256}, "us-east-1")
    assert sam_cli.transform(SAM_TEMPLATE, {"Memory": 256}, "us-east-1") == first
    assert len(translations) == 1, "the second call read the translation kept on disk"

    sam_cli.transform(SAM_TEMPLATE, {"Memory": 512}, "us-east-1")
    monkeypatch.setattr(sam_cli, "translator_version", lambda: "0.0.0-another")
    sam_cli.transform(SAM_TEMPLATE, {"Memory": 256}, "us-east-1")
    assert len(translations) == 3, "another parameter value and another translator each translate again"
    assert len(list(tmp_path.glob("*.json"))) == 3

    monkeypatch.setattr(sam_cli, "CACHE_KEEPS", 1)
    sam_cli.transform(SAM_TEMPLATE, {"Memory": 1024}, "us-east-1")
    assert len(list(tmp_path.glob("*.json"))) == 1, "only the most recently used translations are kept"


def test_a_template_the_translator_refuses_raises_its_message(translations: list[list[str]]) -> None:
    refused = SAM_TEMPLATE | {"Resources": {"Fn": FUNCTION}}  # neither CodeUri nor InlineCode
    with pytest.raises(sam_cli.SamTransformFailed, match=r"Fn.*CodeUri"):
        sam_cli.transform(refused, {}, "us-east-1")
    assert len(translations) == 1
