"""A real FHIR R4 server for the ehr tests: sekmet-fhir (PyPI), run as a subprocess on
127.0.0.1 with a throwaway data directory, its simulator off so it changes nothing by itself.

    fhir_server       — module-scoped, no auth: yields the FHIR base URL
    smart_fhir_server — module-scoped, bearer and SMART Backend Services auth: yields a
                        ``FhirServer`` with the static token, the token URL and two registered
                        clients (an RS384 and an ES384 key, their public JWKs in its settings)

sekmet reads ``settings.yaml`` (JSON is YAML, so it is written with ``json``): ``server_auth``
lists the accepted schemes, static bearer ``tokens`` and ``smart_clients`` (client id, JWKS,
allowed scopes); its token endpoint is ``<root>/auth/token`` and checks the client assertion's
signature, ``aud`` (that URL), ``iss == sub``, ``exp`` at most 5 minutes ahead and a fresh ``jti``.
A server that cannot start fails the test with CLINOPS_REQUIRE_SERVICES=1 and skips it otherwise.

    tiny_server       — a few lines of HTTP for the wire behaviours no real server shows on
                        demand (a 503, an export that never ends, a server that ignores _sort)
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.plugins.clinops import REQUIRE_SERVICES

START_TIMEOUT = 30.0
SMART_SCOPES = "system/*.read system/Task.write"


@dataclass(frozen=True)
class SmartClient:
    client_id: str
    key_id: str
    private_key_pem: str


@dataclass
class FhirServer:
    base_url: str
    directory: Path
    process: subprocess.Popen
    bearer_token: str = ""
    smart_clients: dict[str, SmartClient] = field(default_factory=dict)

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/fhir")

    @property
    def token_url(self) -> str:
        return f"{self.root_url}/auth/token"

    def log_tail(self, lines: int = 30) -> str:
        log = self.directory / "server.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class ServerDidNotStart(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def private_key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_jwk(key, *, kid: str) -> dict:
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk, alg = RSAAlgorithm.to_jwk(public, as_dict=True), "RS384"
    else:
        jwk, alg = ECAlgorithm.to_jwk(public, as_dict=True), "ES384"
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


def _sekmet() -> str:
    found = shutil.which("sekmet", path=str(Path(sys.executable).parent)) or shutil.which("sekmet")
    if not found:
        raise ServerDidNotStart("the sekmet command is not installed (pip install -r requirements-dev.txt)")
    return found


def start_fhir_server(directory: Path, *, secured: bool = False) -> FhirServer:
    """Start sekmet on a free loopback port and wait (bounded) until /fhir/metadata answers."""
    directory.mkdir(parents=True, exist_ok=True)
    bearer_token, clients, registered = "", {}, []
    if secured:
        bearer_token = secrets.token_urlsafe(24)
        for client_id, key in (
            ("clinops-rs", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            ("clinops-es", ec.generate_private_key(ec.SECP384R1())),
        ):
            kid = f"{client_id}-key"
            clients[client_id] = SmartClient(client_id, kid, private_key_pem(key))
            registered.append(
                {"client_id": client_id, "jwks": {"keys": [public_jwk(key, kid=kid)]}, "scopes": SMART_SCOPES}
            )
    last_error = ""
    for _ in range(3):  # another process may take the port between choosing it and binding it
        port = free_port()
        base_url = f"http://127.0.0.1:{port}/fhir"
        config = {
            "base_url": base_url,
            "host": "127.0.0.1",
            "port": port,
            "data_dir": str(directory / "data"),
            "own_private_key_path": str(directory / "keys" / "sekmet.pem"),
            "simulator": {"enabled": False, "delay_seconds": 0.1},
            "log_inbound": False,
            "server_auth": (
                {"types": ["bearer", "smart"], "tokens": [bearer_token], "smart_clients": registered}
                if secured
                else {"types": ["none"]}
            ),
        }
        settings_path = directory / "settings.yaml"
        settings_path.write_text(json.dumps(config, indent=2))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEKMET_")}
        with (directory / "server.log").open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - our own venv's command, fixed arguments
                [_sekmet(), "serve", "-c", str(settings_path), "--host", "127.0.0.1", "--port", str(port)],
                cwd=directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        server = FhirServer(base_url, directory, process, bearer_token, clients)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(f"{base_url}/metadata", timeout=1).status_code == 200:
                    return server
            except requests.RequestException:
                pass
            time.sleep(0.2)
        server.stop()
        last_error = server.log_tail()
    raise ServerDidNotStart(f"sekmet did not answer on /fhir/metadata within {START_TIMEOUT:.0f} s:\n{last_error}")


def _started(directory: Path, *, secured: bool) -> FhirServer:
    try:
        return start_fhir_server(directory, secured=secured)
    except ServerDidNotStart as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"the FHIR test server could not start and CLINOPS_REQUIRE_SERVICES=1: {exc}")
        pytest.skip(f"the FHIR test server could not start: {exc}")


@pytest.fixture(scope="module")
def fhir_server(tmp_path_factory) -> Iterator[str]:
    """The base URL of a sekmet FHIR server without auth, fresh for each test module."""
    server = _started(tmp_path_factory.mktemp("sekmet"), secured=False)
    yield server.base_url
    server.stop()


@pytest.fixture(scope="module")
def smart_fhir_server(tmp_path_factory) -> Iterator[FhirServer]:
    """A sekmet FHIR server that wants a bearer token or a SMART Backend Services access token."""
    server = _started(tmp_path_factory.mktemp("sekmet-smart"), secured=True)
    yield server
    server.stop()


Handler = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


@contextmanager
def tiny_server(handle: Handler) -> Iterator[tuple[str, list[dict]]]:
    """An HTTP server on 127.0.0.1 answering every request with ``handle(request)``; yields its
    root URL and the requests it saw (method, path, headers)."""
    seen: list[dict] = []

    class RequestHandler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers)})
            status, headers, body = handle(self)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = _any

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), RequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def fhir_json(status: int, body: dict, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/fhir+json", **headers}, json.dumps(body).encode()
