"""Request schemas of the identity API (Keystone v3's ``schema.py`` modules)."""

from __future__ import annotations

from nova_lite.api.http.schemas.types import (
    Schema,
    nullable,
    obj,
    text,
)

DOMAIN = obj({"id": text(255), "name": text(255)})
TOKEN_ISSUE = obj(
    {
        "auth": obj(
            {
                "identity": obj(
                    {
                        "methods": {"type": "array", "items": text(64), "maxItems": 4},
                        "password": obj(
                            {
                                "user": obj(
                                    {
                                        "name": text(255),
                                        "id": text(255),
                                        "password": text(1024),
                                        "domain": DOMAIN,
                                    }
                                )
                            }
                        ),
                        "token": obj({"id": text(1024)}),
                    },
                    required=("methods",),
                ),
                "scope": nullable(
                    obj(
                        {"project": obj({"name": text(64), "id": text(255), "domain": DOMAIN})},
                        extra=True,
                    )
                ),
            },
            required=("identity",),
        )
    },
    required=("auth",),
)

SCHEMAS: dict[str, Schema] = {
    "identity_issue_token": TOKEN_ISSUE,
}
