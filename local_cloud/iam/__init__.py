"""IAM on the local AWS: the template's roles created on it, and every call of a role's credentials checked."""
