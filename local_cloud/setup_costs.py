"""moto's set-up work that comes out the same for every cloud, done once per process instead of once per cloud.

Provisioning a cloud is most of what a handler test costs, and most of that was moto redoing work
whose result never changes: a 2048-bit RSA key generated for every symmetric KMS key (which never
signs with it), the same private JWK file imported for every Cognito pool (moto signs every pool's
tokens with that one key), and the state machine's ASL parsed again to validate a definition already
found valid. While `paid_once_per_process` is active those three come from a cache; every resource
is still made afresh on a fresh moto, so no cloud shares any state with another.

moto also starts each mock with no default boto3 session, so every cloud's first clients parsed
botocore's service models (megabytes of JSON) again. `share_parsed_models` gives the new default
session the loader of the previous ones: credentials and settings are still read afresh.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from joserfc import jwk
from moto.cognitoidp import models as cognito_models
from moto.kms import models as kms_models
from moto.kms.utils import AbstractPrivateKey, generate_private_key
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local_cloud.patching import patched

# Key specs whose private key moto makes but never uses: symmetric keys encrypt with their own fresh material.
_SYMMETRIC_SPECS = frozenset({"SYMMETRIC_DEFAULT"})


@functools.cache
def _unused_rsa_key() -> AbstractPrivateKey:
    return generate_private_key("RSA_2048")


def _private_key(key_spec: str, generate: Callable[[str], AbstractPrivateKey]) -> AbstractPrivateKey:
    return _unused_rsa_key() if key_spec in _SYMMETRIC_SPECS else generate(key_spec)


@functools.cache
def _imported_jwk(text: str) -> Any:
    return jwk.RSAKey.import_key(json.loads(text))


@functools.cache
def _valid_definition(definition: str, validate: Any) -> None:
    """Raises as moto does for an invalid definition (not cached: it raises again); remembers a valid one."""
    validate(definition=definition)


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def share_parsed_models() -> None:
    """Give boto3 a default session, if it has none, that reuses the service models earlier sessions parsed."""
    if boto3.DEFAULT_SESSION is None:
        session = botocore.session.get_session()
        session.register_component("data_loader", _shared_loader())
        boto3.setup_default_session(botocore_session=session)


@contextmanager
def paid_once_per_process() -> Iterator[None]:
    """While active: symmetric KMS keys share one unused RSA key, pools one imported JWK, ASL one validation."""
    validate = StepFunctionsParserBackend._validate_definition
    shared_jwk = SimpleNamespace(RSAKey=SimpleNamespace(import_key=lambda data: _imported_jwk(json.dumps(data))))
    share_parsed_models()
    with ExitStack() as stack:
        stack.enter_context(
            patched(kms_models, "generate_private_key", lambda spec: _private_key(spec, generate_private_key))
        )
        stack.enter_context(patched(cognito_models, "jwk", shared_jwk))
        stack.enter_context(
            patched(
                StepFunctionsParserBackend,
                "_validate_definition",
                staticmethod(lambda definition: _valid_definition(definition, validate)),
            )
        )
        yield
