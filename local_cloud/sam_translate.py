"""The SAM transform, run by .venv-sam's python for local_cloud/sam_cli.py: a request on stdin, CloudFormation out.

It runs apart from the local cloud because the SAM translator pins an older pydantic than the layer ships.
Stdin: {"template": <a SAM template>, "parameters": {<name>: <value>}, "region": <region>}. Stdout: the
translated template as JSON. A refused template: the translator's message on stderr, exit status 1.
It imports nothing of this project: .venv-sam holds only the SAM CLI.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator


def main() -> int:
    request = json.load(sys.stdin)
    # The translator warns at exit that its usage metrics went unpublished: noise in a failure's message.
    logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=request["region"]))
    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the answer only
            # The template names no managed policy by name, so translating never needs IAM's list.
            translated = translator.translate(request["template"], request["parameters"], get_managed_policy_map=dict)
    except InvalidDocumentException as refused:
        sys.stderr.write(f"{refused}\n")
        return 1
    json.dump(translated, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
