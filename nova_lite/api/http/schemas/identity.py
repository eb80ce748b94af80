"""Request schemas of the identity API (Keystone v3's ``schema.py`` modules).

Names, booleans and tags follow Keystone's parameter types (a boolean is a JSON
boolean, never ``"True"``; project and domain names are 1-64 characters, users',
groups' and roles' 1-255; tags have no ``/`` or ``,``). Bodies may carry extra
attributes where Keystone keeps them (projects, users, groups, roles, services,
endpoints, ...), at most `MAX_PROPERTIES` of them; the identity service caps their
size again. Every string and list has a cap.
"""

from __future__ import annotations

from typing import Any

from nova_lite.api.http.schemas.types import Schema, nullable, obj, text

__all__ = ["SCHEMAS"]

MAX_PROPERTIES = 64
ID = text(255, 1)
DESCRIPTION = nullable(text(65535))
SECRET = text(1024, 1)
BOOLEAN: Schema = {"type": "boolean"}
NAME_64: Schema = {**text(64, 1), "pattern": r"\S"}
NAME_255: Schema = {**text(255, 1), "pattern": r"\S"}
TAG: Schema = {**text(255, 1), "pattern": "^[^,/]*$"}
TAGS: Schema = {"type": "array", "items": TAG, "maxItems": 80, "uniqueItems": True}
OPTIONS: Schema = {"type": "object", "maxProperties": 16}
REF = obj({"id": ID, "name": text(255)})


def open_obj(
    properties: Schema, *, required: tuple[str, ...] = (), at_least_one: bool = False
) -> Schema:
    """An object Keystone keeps extra attributes of (at most `MAX_PROPERTIES` in all)."""
    schema = {**obj(properties, required=required, extra=True), "maxProperties": MAX_PROPERTIES}
    return {**schema, "minProperties": 1} if at_least_one else schema


def wrapped(key: str, inner: Schema) -> Schema:
    """``{key: inner}`` and nothing else."""
    return obj({key: inner}, required=(key,))


# -- tokens ----------------------------------------------------------------------------

_USER_REF = obj({"id": ID, "name": text(255), "domain": REF})
TOKEN_ISSUE = wrapped(
    "auth",
    obj(
        {
            "identity": obj(
                {
                    "methods": {
                        "type": "array",
                        "items": {"enum": ["password", "token", "application_credential"]},
                        "minItems": 1,
                        "maxItems": 3,
                    },
                    "password": obj(
                        {
                            "user": obj(
                                {"id": ID, "name": text(255), "password": SECRET, "domain": REF}
                            )
                        }
                    ),
                    "token": obj({"id": SECRET}),
                    "application_credential": obj(
                        {"id": ID, "name": text(255), "secret": SECRET, "user": _USER_REF}
                    ),
                },
                required=("methods",),
            ),
            "scope": {
                "anyOf": [
                    obj(
                        {
                            "project": obj({"name": text(64), "id": ID, "domain": REF}),
                            "domain": REF,
                            "system": obj({"all": BOOLEAN}),
                        }
                    ),
                    {"enum": ["unscoped"]},
                    {"type": "null"},
                ]
            },
        },
        required=("identity",),
    ),
)

# -- domains and projects --------------------------------------------------------------

_DOMAIN = {
    "name": NAME_64,
    "description": DESCRIPTION,
    "enabled": BOOLEAN,
    "tags": TAGS,
    "options": OPTIONS,
}
_PROJECT = {
    **_DOMAIN,
    "domain_id": nullable(ID),
    "parent_id": nullable(ID),
    "is_domain": BOOLEAN,
}
DOMAIN_CREATE = wrapped(
    "domain", open_obj({**_DOMAIN, "explicit_domain_id": ID}, required=("name",))
)
DOMAIN_UPDATE = wrapped("domain", open_obj(_DOMAIN, at_least_one=True))
PROJECT_CREATE = wrapped("project", open_obj(_PROJECT, required=("name",)))
PROJECT_UPDATE = wrapped("project", open_obj(_PROJECT, at_least_one=True))
TAGS_REPLACE = obj({"tags": TAGS}, required=("tags",))

_CONFIG_GROUP: Schema = {"type": "object", "maxProperties": 64}
DOMAIN_CONFIG = wrapped(
    "config",
    {
        "type": "object",
        "properties": {"identity": _CONFIG_GROUP, "ldap": _CONFIG_GROUP},
        "additionalProperties": False,
        "minProperties": 1,
    },
)
DOMAIN_CONFIG_OPTION = wrapped("config", {"type": "object", "minProperties": 1, "maxProperties": 1})

# -- users, groups, roles --------------------------------------------------------------

_USER = {
    "name": NAME_255,
    "domain_id": ID,
    "enabled": BOOLEAN,
    "password": nullable(SECRET),
    "default_project_id": nullable(ID),
    "description": DESCRIPTION,
    "email": nullable(text(255)),
    "options": OPTIONS,
}
USER_CREATE = wrapped("user", open_obj(_USER, required=("name",)))
USER_UPDATE = wrapped("user", open_obj(_USER, at_least_one=True))
PASSWORD_CHANGE = wrapped(
    "user",
    obj(
        {"password": SECRET, "original_password": SECRET},
        required=("password", "original_password"),
    ),
)
_GROUP = {"name": NAME_255, "domain_id": ID, "description": DESCRIPTION}
GROUP_CREATE = wrapped("group", open_obj(_GROUP, required=("name",)))
GROUP_UPDATE = wrapped("group", open_obj(_GROUP, at_least_one=True))
_ROLE = {
    "name": NAME_255,
    "domain_id": nullable(ID),
    "description": DESCRIPTION,
    "options": OPTIONS,
}
ROLE_CREATE = wrapped("role", open_obj(_ROLE, required=("name",)))
ROLE_UPDATE = wrapped("role", open_obj(_ROLE, at_least_one=True))
APP_CRED_CREATE = wrapped(
    "application_credential",
    obj(
        {
            "name": NAME_255,
            "description": DESCRIPTION,
            "secret": nullable(SECRET),
            "expires_at": nullable(text(64)),
            "roles": {
                "type": "array",
                "items": obj({"id": ID, "name": text(255), "domain_id": nullable(ID)}),
                "maxItems": 64,
            },
            "unrestricted": nullable(BOOLEAN),
            "access_rules": {"type": "array", "maxItems": 0},
        },
        required=("name",),
    ),
)

# -- the catalog and other records -----------------------------------------------------

_SERVICE = {"type": NAME_255, "name": text(255), "description": DESCRIPTION, "enabled": BOOLEAN}
_ENDPOINT = {
    "service_id": ID,
    "interface": {"enum": ["public", "internal", "admin"]},
    "url": text(1024, 1),
    "region": nullable(ID),
    "region_id": nullable(ID),
    "enabled": BOOLEAN,
}
_REGION = {"id": ID, "description": DESCRIPTION, "parent_region_id": nullable(ID)}
_ENDPOINT_GROUP = {
    "name": NAME_255,
    "description": DESCRIPTION,
    "filters": obj({"service_id": ID, "region_id": ID, "interface": text(16)}),
}
_POLICY = {"blob": text(8192), "type": text(255)}
_CREDENTIAL = {"user_id": ID, "project_id": nullable(ID), "type": text(255), "blob": text(8192)}

RECORDS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "service": ("service", _SERVICE, ("type",)),
    "endpoint": ("endpoint", _ENDPOINT, ("service_id", "interface", "url")),
    "region": ("region", _REGION, ()),
    "endpoint_group": ("endpoint_group", _ENDPOINT_GROUP, ("name", "filters")),
    "policy": ("policy", _POLICY, ("blob", "type")),
    "credential": ("credential", _CREDENTIAL, ("user_id", "type", "blob")),
    "consumer": ("consumer", {"description": DESCRIPTION}, ()),
}

SCHEMAS: dict[str, Schema] = {
    "identity_issue_token": TOKEN_ISSUE,
    "identity_create_domain": DOMAIN_CREATE,
    "identity_update_domain": DOMAIN_UPDATE,
    "identity_create_project": PROJECT_CREATE,
    "identity_update_project": PROJECT_UPDATE,
    "identity_replace_project_tags": TAGS_REPLACE,
    "identity_create_domain_config": DOMAIN_CONFIG,
    "identity_update_domain_config": DOMAIN_CONFIG,
    "identity_update_domain_config_group": DOMAIN_CONFIG,
    "identity_update_domain_config_option": DOMAIN_CONFIG_OPTION,
    "identity_create_user": USER_CREATE,
    "identity_update_user": USER_UPDATE,
    "identity_change_password": PASSWORD_CHANGE,
    "identity_create_group": GROUP_CREATE,
    "identity_update_group": GROUP_UPDATE,
    "identity_create_role": ROLE_CREATE,
    "identity_update_role": ROLE_UPDATE,
    "identity_create_app_cred": APP_CRED_CREATE,
    "identity_create_region_with_id": wrapped("region", open_obj(_REGION)),
    "identity_create_ec2_credential": obj({"tenant_id": ID}, required=("tenant_id",)),
}
for _kind, (_key, _properties, _required) in RECORDS.items():
    SCHEMAS[f"identity_create_{_kind}"] = wrapped(_key, open_obj(_properties, required=_required))
    SCHEMAS[f"identity_update_{_kind}"] = wrapped(_key, open_obj(_properties, at_least_one=True))
