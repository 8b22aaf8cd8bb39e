"""Before make deploy or make destroy: say which account and region it is about to act on, or stop.

Usage: python -m scripts.deploy_target [--destroy]
Without credentials (or with expired ones) it exits non-zero with a message saying how to get some.
With --destroy it also names the resources the template keeps when the stack is deleted.
"""

from __future__ import annotations

import argparse

from tools.deploy_target import caller, retained


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
