"""Which AWS account and region a deploy or a destroy would act on, and what the stack's deletion keeps.

scripts/deploy_target.py prints them before make deploy and make destroy.
"""

from __future__ import annotations

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

from local_cloud.template import Template

NO_CREDENTIALS = (
    "no AWS credentials: sign in first (`aws sso login --profile <name>` and AWS_PROFILE=<name>, or "
    "`aws configure`); in GitHub Actions, configure-aws-credentials assumes the deploy role by OIDC"
)


def caller() -> tuple[str, str, str]:
    """(account, caller ARN, region) of the credentials this process has; SystemExit when there are none."""
    session = boto3.session.Session()
    region = session.region_name
    if not region:
        raise SystemExit("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION), or your profile's region")
    try:
        identity = session.client("sts").get_caller_identity()
    except (NoCredentialsError, PartialCredentialsError):
        raise SystemExit(NO_CREDENTIALS) from None
    except ClientError as error:  # expired or revoked credentials
        raise SystemExit(f"the AWS credentials were refused: {error}") from None
    except BotoCoreError as error:
        raise SystemExit(f"could not ask AWS who these credentials are: {error}") from None
    return str(identity["Account"]), str(identity["Arn"]), region


def retained() -> list[str]:
    """The template's resources that `sam delete` leaves in the account (DeletionPolicy: Retain)."""
    resources = Template.load().resources
    return sorted(
        name
        for name, spec in resources.items()
        # SAM retains each published version so that an update keeps the previous one; deleting the
        # function deletes its versions all the same.
        if spec.get("DeletionPolicy") == "Retain" and spec["Type"] != "AWS::Lambda::Version"
    )
