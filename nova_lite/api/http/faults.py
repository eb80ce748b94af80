"""Errors as the OpenStack services report them: status codes and fault bodies.

nova_lite exceptions carry the HTTP status Nova gives them (``NovaError.code``);
`fault_for` turns any exception into that status and a message, and `fault_body`
shapes it the way the API being called does: Nova and Cinder name the fault
(``{"itemNotFound": {"code": 404, "message": ...}}``), Keystone and Glance use an
``error`` object, Neutron a ``NeutronError``. Anything unexpected is a 500 whose
message hides the details (they are logged with the request id instead).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import attrs
from aiohttp import web

from nova_lite.exceptions import (
    MessagingTimeout,
    NovaError,
    NovaLiteError,
    TransportError,
)

__all__ = ["Fault", "api_of", "fault_body", "fault_for"]

# Nova's fault names by status (nova/api/openstack/wsgi.py); others are computeFault.
_NOVA_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


@attrs.frozen
class Fault:
    """An error to report: its status, a message for the caller, and a type name."""

    status: int
    message: str
    kind: str = "Error"


def fault_for(exc: BaseException) -> Fault:
    """The status and message `exc` is reported with."""
    if isinstance(exc, web.HTTPException):
        return Fault(exc.status, exc.text or exc.reason, type(exc).__name__)
    if isinstance(exc, NovaError):
        return Fault(exc.code, str(exc), type(exc).__name__)
    if isinstance(exc, MessagingTimeout | TransportError):
        return Fault(503, "A service did not answer in time; try again later.", "Unavailable")
    if isinstance(exc, NovaLiteError):
        return Fault(500, f"Unexpected error: {type(exc).__name__}.", type(exc).__name__)
    return Fault(500, "Unexpected API error. The request id identifies it in the logs.")


def api_of(path: str) -> str:
    """Which API a request path belongs to: compute, image, network, volume or identity."""
    first = path.lstrip("/").split("/", 1)[0]
    return first if first in ("compute", "image", "network", "volume") else "identity"


def fault_body(api: str, fault: Fault) -> dict[str, Any]:
    """The JSON body `api` reports `fault` with."""
    title = HTTPStatus(fault.status).phrase if fault.status in HTTPStatus._value2member_map_ else ""
    if api in ("compute", "volume"):
        name = _NOVA_NAMES.get(fault.status, "computeFault")
        return {name: {"code": fault.status, "message": fault.message}}
    if api == "network":
        return {"NeutronError": {"type": fault.kind, "message": fault.message, "detail": ""}}
    return {"error": {"code": fault.status, "title": title, "message": fault.message}}
