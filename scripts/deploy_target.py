"""Before make deploy or make destroy: say which account and region it is about to act on, or stop.

Usage: python -m scripts.deploy_target [--destroy]
Without credentials (or with expired ones) it exits non-zero with a message saying how to get some.
With --destroy it also names the resources the template keeps when the stack is deleted.
"""

from __future__ import annotations

import argparse

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--destroy", action="store_true", help="also name what the stack's deletion keeps")
    arguments = parser.parse_args()
    account, arn, region = caller()
    print(f"AWS account {account} in {region}, as {arn}")
    if arguments.destroy:
        print("sam delete keeps (DeletionPolicy: Retain): " + ", ".join(retained()))


if __name__ == "__main__":
    main()
