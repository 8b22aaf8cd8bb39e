"""What an API function needs to stay correct under SnapStart (template.yaml: SnapStart on PublishedVersions).

Lambda initialises a published version once, snapshots it, and resumes every new execution environment of
that version from the same snapshot, so anything made during init is shared by all of them:
- Ids: orders, events and request ids come from uuid4/uuid5 or the request; uuid4 reads os.urandom, which a
  restored environment does not repeat. Nothing unique is made at init.
- `random`: its state is in the snapshot, and botocore draws its retry jitter from it; reseeded after each
  restore so that environments restored together do not retry in step.
- Connections: an API function makes no AWS call at init (tests/handlers/test_snapstart.py proves it), so the
  snapshot holds no open connection; botocore opens each on first use, after the restore.
The hook is registered through snapshot_restore_py, which Lambda's Python runtimes include; elsewhere
(tests, the local cloud, `sam local`) there is no snapshot and nothing to register.
"""

from __future__ import annotations

import importlib
import random

_registered = False


def reseed_random() -> None:
    """A fresh seed from os.urandom, so that no two restored environments share a random sequence."""
    random.seed()


def register_after_restore_hooks() -> None:
    """Register `reseed_random` to run after every restore, once per process."""
    global _registered  # noqa: PLW0603 - one registration per execution environment
    if _registered:
        return
    try:
        runtime_hooks = importlib.import_module("snapshot_restore_py")
    except ImportError:  # not in Lambda's runtime: no snapshot to restore from
        return
    runtime_hooks.register_after_restore(reseed_random)
    _registered = True
