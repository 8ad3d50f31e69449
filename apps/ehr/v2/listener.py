"""The MLLP listener: asyncio, many connections, one port per source or one port shared by sources
told apart by the sender's address.

Each connection is read through ``FrameReader``; each whole frame is handed to ``handle`` (the
v2 inbox: it stores, then returns the ACK) in a worker thread, and its ACK is written back before
the next frame of that connection is taken, so a connection's messages keep their order. A
connection from an address no source on that port allows is closed unanswered. Framing errors
are logged (no patient data) and answered with an AR where a frame was dropped; a connection
that errs or goes quiet is closed; nothing a connection does stops the listener. On stop, the
ports close first and the messages being stored are answered before the process ends.
"""

import asyncio
import ipaddress
import logging
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .ack import AckProblem, ack_build
from .mllp import FrameReader, FramingError, frame

logger = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Writer = asyncio.StreamWriter


@dataclass(frozen=True)
class Route:
    source_id: int
    name: str
    networks: tuple[Network, ...]

    def allows(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)


def networks_of(values: list[str]) -> tuple[Network, ...]:
    """Parse a source's allowed addresses ("10.0.0.5", "10.1.0.0/16", "::1"); raises ValueError."""
    return tuple(ipaddress.ip_network(str(v).strip(), strict=False) for v in values)


@dataclass
class Reply:
    """What ``handle`` answers: the bytes to send (None: send nothing)."""

    data: bytes | None


Handle = Callable[[int, bytes, str], Reply]


@dataclass
class Stats:
    connections: int = 0
    refused: int = 0
    frames: int = 0
    framing_errors: int = 0
    open_connections: int = 0
    in_flight: int = 0
    errors: int = 0
    by_port: dict[int, int] = field(default_factory=dict)


class Listener:
    def __init__(
        self,
        routes: dict[int, list[Route]],
        handle: Handle,
        *,
        host: str = "0.0.0.0",  # noqa: S104 - a listener for interface engines on other hosts
        max_bytes: int = 20 * 1024 * 1024,
        idle_seconds: float = 300.0,
        workers: int = 4,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.routes = routes
        self.handle = handle
        self.host = host
        self.max_bytes = max_bytes
        self.idle_seconds = idle_seconds
        self.ssl_context = ssl_context
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hl7")
        self.servers: list[asyncio.Server] = []
        self.stats = Stats()
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> list[int]:
        """Open every port; returns the ports actually bound (0 in the routes: any free port)."""
        ports = []
        for port, routes in self.routes.items():
            server = await asyncio.start_server(
                partial(self._serve, routes),
                self.host,
                port,
                ssl=self.ssl_context,
                limit=64 * 1024,
            )
            self.servers.append(server)
            bound = server.sockets[0].getsockname()[1]
            ports.append(bound)
            logger.info("hl7_listen: port %s for %s", bound, ", ".join(r.name for r in routes))
        return ports

    async def stop(self) -> None:
        """Close the ports, let the messages being stored be answered, then close connections."""
        for server in self.servers:
            server.close()
        deadline = asyncio.get_running_loop().time() + 30
        while self.stats.in_flight and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self.servers:
            await server.wait_closed()
        self.executor.shutdown(wait=True)

    async def _serve(self, routes: list[Route], reader: asyncio.StreamReader, writer: Writer) -> None:
        await self._connection(reader, writer, routes)

    def _route(self, routes: list[Route], address: str) -> Route | None:
        return next((r for r in routes if r.allows(address)), None)

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, routes: list[Route]
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer: Any = writer.get_extra_info("peername") or ("", 0)
        address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        route = self._route(routes, address)
        self.stats.connections += 1
        if route is None:
            self.stats.refused += 1
            logger.warning("hl7_listen: connection from %s refused: no source on this port allows it", address)
            await self._close(writer)
            if task is not None:
                self._tasks.discard(task)
            return
        self.stats.open_connections += 1
        frames = FrameReader(self.max_bytes)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(64 * 1024), timeout=self.idle_seconds)
                except TimeoutError:
                    logger.info("hl7_listen: connection from %s idle, closed", address)
                    break
                if not data:
                    break
                for item in frames.feed(data):
                    if isinstance(item, FramingError):
                        await self._framing_error(item, writer, address, route)
                        continue
                    await self._message(item, writer, address, route)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            logger.info("hl7_listen: connection from %s dropped (%s)", address, exc.__class__.__name__)
        except asyncio.CancelledError:
            pass
        except Exception:
            self.stats.errors += 1
            logger.exception("hl7_listen: connection from %s failed; closed", address)
        finally:
            self.stats.open_connections -= 1
            if frames.pending:
                logger.warning("hl7_listen: %s left %d byte(s) of an unfinished frame", address, frames.pending)
            await self._close(writer)
            if task is not None:
                self._tasks.discard(task)

    async def _message(self, payload: bytes, writer: asyncio.StreamWriter, address: str, route: Route) -> None:
        self.stats.frames += 1
        self.stats.in_flight += 1
        try:
            loop = asyncio.get_running_loop()
            # Shielded: once storing has begun it finishes, and its ACK is sent, even on stop.
            reply = await asyncio.shield(
                loop.run_in_executor(self.executor, self.handle, route.source_id, payload, address)
            )
        finally:
            self.stats.in_flight -= 1
        if reply.data is not None:
            writer.write(frame(reply.data))
            await writer.drain()

    async def _framing_error(
        self, error: FramingError, writer: asyncio.StreamWriter, address: str, route: Route
    ) -> None:
        self.stats.framing_errors += 1
        logger.warning("hl7_listen: framing error from %s (source %s): %s", address, route.name, error.reason)
        if "dropped" in error.reason:  # a whole frame was lost: say so, the sender keeps it
            problem = AckProblem("100", "", f"MLLP framing error: {error.reason}.")
            writer.write(frame(ack_build(None, "AR", problem).encode()))
            await writer.drain()

    async def _close(self, writer: asyncio.StreamWriter) -> None:
        try:
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), timeout=5)
        except (Exception, asyncio.CancelledError):  # noqa: S110 - the peer is gone either way
            pass
