"""A real oslo.messaging peer for the interop tests, run as a child process.

``python -m tests.oslo_peer URL`` reads one JSON command a line on stdin and answers
one JSON line on stdout: start or stop oslo RPC servers (rabbit driver, ``threading``
executor), make oslo RPC calls and casts, report the casts a server received.
oslo.messaging is blocking and thread-based, and its imports warn; in a child process
none of that reaches pytest's asyncio loop or its warnings-as-errors. Contexts are
``oslo_context.RequestContext`` objects, serialized as Nova's RequestContextSerializer
does (``to_dict``/``from_dict``); arguments and results pass unchanged.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
from typing import IO, Any

__all__ = ["main"]


class _Serializer:
    """Nova's RequestContextSerializer around oslo's NoOpSerializer."""

    def __init__(self, context_cls: Any) -> None:
        self.context_cls = context_cls

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def serialize_context(self, ctxt: Any) -> Any:
        return ctxt.to_dict()

    def deserialize_context(self, ctxt: Any) -> Any:
        return self.context_cls.from_dict(ctxt)


class _Endpoint:
    """The oslo server's endpoint: the same methods as the nova_lite side's."""

    def __init__(self, name: str, om: Any, version: str) -> None:
        self.name = name
        self.target = om.Target(version=version)
        self.casts: list[Any] = []
        self.changed = threading.Condition()
        self.released = threading.Event()

    def echo(self, ctxt: Any, value: Any) -> Any:
        return value

    def whoami(self, ctxt: Any) -> str:
        return f"oslo:{self.name}"

    def note(self, ctxt: Any, n: Any) -> None:
        with self.changed:
            self.casts.append(n)
            self.changed.notify_all()

    def context_of(self, ctxt: Any) -> dict[str, Any]:
        return {
            "request_id": ctxt.request_id,
            "user_id": ctxt.user_id,
            "project_id": ctxt.project_id,
            "roles": list(ctxt.roles),
        }

    def describe(self, ctxt: Any, value: Any) -> dict[str, Any]:
        keys = sorted(value) if isinstance(value, dict) else None
        return {"type": type(value).__name__, "keys": keys}

    def held(self, ctxt: Any, value: Any) -> Any:
        """Answer only once the test releases this server (`_Peer.release`)."""
        self.released.wait(60)
        return value

    def fail_builtin(self, ctxt: Any) -> None:
        raise KeyError("boom")

    def fail_nova_lite(self, ctxt: Any) -> None:
        from nova_lite.exceptions import NotFound

        raise NotFound("Instance abc could not be found.", instance_id="abc")

    def ovo_flavor(self, ctxt: Any) -> dict[str, Any]:
        """A Flavor as oslo.versionedobjects' obj_to_primitive writes one (Nova's shape)."""
        return {
            "nova_object.name": "Flavor",
            "nova_object.namespace": "nova",
            "nova_object.version": "1.2",
            "nova_object.data": {
                "flavorid": "42",
                "name": "ovo.small",
                "vcpus": 2,
                "memory_mb": 2048,
                "root_gb": 20,
                "ephemeral_gb": 0,
                "swap": 0,
                "is_public": True,
                "extra_specs": {},
                "rxtx_factor": 1.0,
            },
            "nova_object.changes": ["name"],
        }


class _Peer:
    """oslo transports (one per durability and allow-list), servers and clients."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.om = importlib.import_module("oslo_messaging")
        self.context_cls = importlib.import_module("oslo_context.context").RequestContext
        self.serializer = _Serializer(self.context_cls)
        self.transports: dict[tuple[bool, tuple[str, ...]], Any] = {}
        self.servers: dict[str, tuple[Any, _Endpoint]] = {}

    def _transport(self, durable: bool, allowed: tuple[str, ...] = ()) -> Any:
        key = (durable, allowed)
        if key not in self.transports:
            cfg = importlib.import_module("oslo_config.cfg")
            opts = importlib.import_module("oslo_messaging.opts")
            conf = cfg.ConfigOpts()
            conf([], project="nova_lite_interop")
            for group, options in opts.list_opts():
                conf.register_opts(options, group=group)
            # Options oslo registers on its global CONF only, as it imports modules.
            for module, group in (("_tracing", "tracing"), ("_metrics", "metrics")):
                client = importlib.import_module(f"oslo_messaging.{module}.client")
                name = f"oslo_messaging_{group}"
                conf.register_opts(getattr(client, name), group=name)
            conf.set_override("amqp_durable_queues", durable, group="oslo_messaging_rabbit")
            self.transports[key] = self.om.get_rpc_transport(
                conf, url=self.url, allowed_remote_exmods=list(allowed)
            )
        return self.transports[key]

    def _target(self, command: dict[str, Any]) -> Any:
        return self.om.Target(
            exchange=command.get("exchange"),
            topic=command["topic"],
            server=command.get("server"),
            fanout=command.get("fanout", False),
            version=command.get("version"),
            namespace=command.get("namespace"),
        )

    def serve(self, name: str, topic: str, server: str, **options: Any) -> None:
        endpoint = _Endpoint(server, self.om, options.get("endpoint_version", "1.0"))
        target = self.om.Target(exchange=options.get("exchange"), topic=topic, server=server)
        rpc_server = self.om.get_rpc_server(
            self._transport(options.get("durable", False)), target, [endpoint],
            executor="threading", serializer=self.serializer,
            access_policy=self.om.DefaultRPCAccessPolicy,
        )  # fmt: skip
        rpc_server.start()
        self.servers[name] = (rpc_server, endpoint)

    def stop(self, name: str) -> None:
        rpc_server, _ = self.servers.pop(name)
        rpc_server.stop()
        rpc_server.wait()

    def release(self, name: str) -> None:
        """Let the held calls of server `name` answer."""
        _, endpoint = self.servers[name]
        endpoint.released.set()

    def _client(self, command: dict[str, Any]) -> Any:
        transport = self._transport(
            command.get("durable", False), tuple(command.get("allowed", ()))
        )
        return self.om.get_rpc_client(
            transport, self._target(command), serializer=self.serializer,
            timeout=command.get("timeout", 10),
            call_monitor_timeout=command.get("call_monitor_timeout"),
        )  # fmt: skip

    def _context(self, values: dict[str, Any]) -> Any:
        return self.context_cls(**values)

    def call(self, **command: Any) -> Any:
        client = self._client(command)
        ctxt = self._context(command.get("ctx", {}))
        try:
            return {"value": client.call(ctxt, command["method"], **command.get("args", {}))}
        except Exception as exc:
            return {"raised": type(exc).__name__, "module": type(exc).__module__, "text": str(exc)}

    def cast(self, **command: Any) -> None:
        client = self._client(command)
        client.cast(self._context(command.get("ctx", {})), command["method"], **command["args"])

    def received(self, name: str, count: int, timeout: float = 10.0) -> list[Any]:
        """The casts server `name` received, once there are `count` of them."""
        _, endpoint = self.servers[name]
        with endpoint.changed:
            endpoint.changed.wait_for(lambda: len(endpoint.casts) >= count, timeout)
            return list(endpoint.casts)

    def shutdown(self) -> None:
        for name in list(self.servers):
            self.stop(name)
        for transport in self.transports.values():
            transport.cleanup()


def _serve(url: str, protocol: IO[str]) -> None:
    peer = _Peer(url)
    protocol.write(json.dumps({"result": "ready"}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        try:
            answer: dict[str, Any] = {"result": getattr(peer, op)(**command)}
        except Exception as exc:
            answer = {"error": repr(exc)}
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()
        if op == "shutdown":
            return


def main() -> None:
    """Answer JSON commands on stdin; anything printed otherwise goes to stderr."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    _serve(sys.argv[1], protocol)


if __name__ == "__main__":
    main()
