"""The template made into resources: what one provisioner returns, and what provisioning adds up to.

The bottom of the local cloud's import graph with template.py: functions, provisioners and services
take a Stack (or the Cloud built on it) and nothing here imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local_cloud.template import Template

Attributes = dict[str, Any]  # a resource's !GetAtt values, by attribute name
# (logical id, resolved properties) -> (what !Ref gives, its attributes): one resource type made on moto.
Provisioner = Callable[[str, dict[str, Any]], tuple[Any, Attributes]]


@dataclass
class Stack:
    """What provisioning made: the template with its local values, and what it could not make."""

    template: Template
    not_provisioned: dict[str, str] = field(default_factory=dict)  # logical id -> resource type

    def physical_id(self, logical_id: str) -> Any:
        return self.template.physical_ids[logical_id]
