"""The OpenStack-compatible HTTP API: Keystone, Nova, Glance, Neutron and Cinder subsets.

One aiohttp application (`create_app`) serves every API under one address, so that
openstacksdk and the ``openstack`` command line work against nova_lite unchanged::

    /v3                          identity (Keystone v3): tokens, projects, users
    /compute/v2.1                compute (Nova v2.1, microversions 2.1 to 2.79)
    /image/v2                    image (Glance v2)
    /network/v2.0                network (Neutron v2.0)
    /volume/v3/{project_id}      block storage (Cinder v3)
    /openapi.json                the OpenAPI description of all of the above

Handlers hold no state of their own: each request's token becomes a `Session` of
`NovaAPI`, and every operation travels over the bus through NovaAPI and the services'
rpcapi classes, under the request id the response carries. `HttpServer` runs the
application on an address, beside the api service or inside ``nova-lite all``.
"""

from __future__ import annotations

from nova_lite.api.http.app import create_app
from nova_lite.api.http.server import HttpServer, parse_listen

__all__ = ["HttpServer", "create_app", "parse_listen"]
