"""The body of ``POST /identity/v3/auth/tokens`` (Keystone's password and token methods), for
the OpenAPI document; the view reads it field by field to answer with Keystone's errors."""

from __future__ import annotations

from dashboard.api.schemas.types import Schema

_DOMAIN: Schema = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
}

AUTH_REQUEST: Schema = {
    "type": "object",
    "required": ["auth"],
    "properties": {
        "auth": {
            "type": "object",
            "required": ["identity"],
            "properties": {
                "identity": {
                    "type": "object",
                    "required": ["methods"],
                    "properties": {
                        "methods": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["password", "token"]},
                        },
                        "password": {
                            "type": "object",
                            "properties": {
                                "user": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "string"},
                                        "name": {"type": "string"},
                                        "password": {"type": "string"},
                                        "domain": _DOMAIN,
                                    },
                                }
                            },
                        },
                        "token": {"type": "object", "properties": {"id": {"type": "string"}}},
                    },
                },
                "scope": {
                    "type": "object",
                    "properties": {
                        "project": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "string"},
                                "name": {"type": "string"},
                                "domain": _DOMAIN,
                            },
                        }
                    },
                },
            },
        }
    },
}
