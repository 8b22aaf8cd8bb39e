"""The fake AWS account every local cloud runs in: credentials that cannot reach a real one."""

from __future__ import annotations

from local_cloud.template import REGION

# Credentials moto accepts; set so that a real profile or endpoint in the shell is never used.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


def fake_account(endpoint: str | None = None) -> dict[str, str | None]:
    """An environment that cannot reach a real account: fake credentials, no profile, AWS at `endpoint` or mocked."""
    return FAKE_CREDENTIALS | {"AWS_PROFILE": None, "AWS_ENDPOINT_URL": endpoint}
