"""The template's Cognito user pool and app client on moto: made as CloudFormation makes them, and found again.

Customers sign in through Cognito's own API (drivers.customers); the check a REST API's Cognito
authorizer makes is local_cloud.api_gateway.authorizer; the demo customers are local_cloud.demo_account.
"""

from __future__ import annotations

from typing import Any

import boto3

from local_cloud.cloud import Cloud
from local_cloud.stack import Attributes, Provisioner

USER_POOL_TYPE = "AWS::Cognito::UserPool"
USER_POOL_CLIENT_TYPE = "AWS::Cognito::UserPoolClient"

# CloudFormation properties that CreateUserPool / CreateUserPoolClient take under the same name and shape.
_USER_POOL_PROPERTIES = (
    "Policies",
    "Schema",
    "AutoVerifiedAttributes",
    "AliasAttributes",
    "UsernameAttributes",
    "UsernameConfiguration",
    "MfaConfiguration",
    "AccountRecoverySetting",
    "AdminCreateUserConfig",
    "DeletionProtection",
    "UserAttributeUpdateSettings",
    "UserPoolTags",
)
_CLIENT_PROPERTIES = (
    "ExplicitAuthFlows",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "ReadAttributes",
    "WriteAttributes",
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
)


def issuer(user_pool_arn: str) -> str:
    """The `iss` of the pool's tokens, and its ProviderURL: `https://cognito-idp.<region>.amazonaws.com/<pool id>`."""
    region, pool_id = user_pool_arn.split(":")[3], user_pool_arn.rsplit("/", 1)[-1]
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def _user_pool(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    client = boto3.client("cognito-idp")
    request: dict[str, Any] = {"PoolName": properties.get("UserPoolName", logical_id)}
    request |= {name: properties[name] for name in _USER_POOL_PROPERTIES if name in properties}
    pool = client.create_user_pool(**request)["UserPool"]
    if "SOFTWARE_TOKEN_MFA" in properties.get("EnabledMfas", []):
        # EnabledMfas is CloudFormation's; the API sets it apart, as CloudFormation itself does.
        client.set_user_pool_mfa_config(
            UserPoolId=pool["Id"],
            SoftwareTokenMfaConfiguration={"Enabled": True},
            MfaConfiguration=properties.get("MfaConfiguration", "OFF"),
        )
    provider_url = issuer(pool["Arn"])
    return pool["Id"], {
        "Arn": pool["Arn"],
        "UserPoolId": pool["Id"],
        "ProviderURL": provider_url,
        "ProviderName": provider_url.removeprefix("https://"),
    }


def _user_pool_client(logical_id: str, properties: dict[str, Any]) -> tuple[Any, Attributes]:
    request: dict[str, Any] = {
        "UserPoolId": properties["UserPoolId"],
        "ClientName": properties.get("ClientName", logical_id),
        "GenerateSecret": bool(properties.get("GenerateSecret", False)),
    }
    request |= {name: properties[name] for name in _CLIENT_PROPERTIES if name in properties}
    app_client = boto3.client("cognito-idp").create_user_pool_client(**request)["UserPoolClient"]
    attributes: Attributes = {"ClientId": app_client["ClientId"], "Name": app_client["ClientName"]}
    if "ClientSecret" in app_client:
        attributes["ClientSecret"] = app_client["ClientSecret"]
    return app_client["ClientId"], attributes


PROVISIONERS: dict[str, Provisioner] = {
    USER_POOL_TYPE: _user_pool,
    USER_POOL_CLIENT_TYPE: _user_pool_client,
}


def _only(cloud: Cloud, resource_type: str) -> str:
    """The logical id of the template's one resource of this type: which pool is meant is never a guess."""
    logical_ids = sorted(cloud.template.of_type(resource_type))
    if len(logical_ids) != 1:
        raise LookupError(f"expected one {resource_type} in the template, found {logical_ids or 'none'}")
    return logical_ids[0]


def user_pool_id(cloud: Cloud) -> str:
    return str(cloud.physical_id(_only(cloud, USER_POOL_TYPE)))


def user_pool_client_id(cloud: Cloud) -> str:
    return str(cloud.physical_id(_only(cloud, USER_POOL_CLIENT_TYPE)))


def user_pool_arns(cloud: Cloud) -> list[str]:
    """Every user pool the template made: whom an authorizer trusts when nothing narrower is named."""
    return [cloud.template.resolve({"Fn::GetAtt": [pool, "Arn"]}) for pool in cloud.template.of_type(USER_POOL_TYPE)]
