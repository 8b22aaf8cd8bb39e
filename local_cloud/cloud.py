"""The provisioned stack with the template's functions, loaded in this process: what every service works on."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from local_cloud.functions import FunctionRegistry
from local_cloud.stack import Stack


@dataclass
class Cloud(Stack):
    """A Stack whose functions run here: `functions` loads each once, by logical id, name or ARN."""

    @cached_property
    def functions(self) -> FunctionRegistry:
        return FunctionRegistry(self)
