"""The webhook SSRF guard: refusals at creation and at connect time, and real deliveries on loopback.

Refusals are tested as refusals: no test here sends a byte anywhere but to a receiver this
file starts on 127.0.0.1. Public addresses appear only as literals handed to `check_url`,
which resolves them without any traffic.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import standardwebhooks
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service.config import Settings
from service.webhooks.signing import new_secret, signed_headers
from service.webhooks.ssrf import (
    UnsafeWebhookURL,
    address_refusal,
    check_url,
    deliver,
    guarded_client,
    parse_url,
)


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Receiver:
    """A tiny HTTP/1.1 server on 127.0.0.1; each path answers through a handler."""

    routes: dict[str, Callable[[Received], Awaitable[Answer]]]
    ssl_context: ssl.SSLContext | None = None
    requests: list[Received] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            received = Received(method, path, headers, body)
            self.requests.append(received)
            status, extra, payload = await self.routes[path](received)
            response_head = f"HTTP/1.1 {status} X\r\ncontent-length: {len(payload)}\r\nconnection: close\r\n"
            for name, value in extra.items():
                response_head += f"{name}: {value}\r\n"
            writer.write(response_head.encode("latin-1") + b"\r\n" + payload)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


@pytest.fixture
async def receiver_factory() -> AsyncIterator[Callable[..., Awaitable[Receiver]]]:
    started: list[Receiver] = []

    async def start(
        routes: dict[str, Callable[[Received], Awaitable[Answer]]],
        ssl_context: ssl.SSLContext | None = None,
    ) -> Receiver:
        receiver = Receiver(routes, ssl_context)
        await receiver.start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        await receiver.stop()


async def ok(_: Received) -> Answer:
    return 204, {}, b""


# --- refusals at creation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://127.8.9.10:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://localhost/hook", "loopback"),  # a name that resolves to loopback
        ("http://LocalHost./hook", "loopback"),  # upper case and a trailing dot
        ("http://10.1.2.3/hook", "private"),
        ("http://172.16.0.1/hook", "private"),
        ("http://172.31.255.254/hook", "private"),
        ("http://192.168.1.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://169.254.1.1/hook", "link-local"),
        ("http://100.100.100.200/hook", "metadata"),
        ("http://[fd00:ec2::254]/hook", "metadata"),
        ("http://100.64.0.1/hook", "CGNAT"),
        ("http://[fd00::1]/hook", "unique local"),
        ("http://[fd12:3456:789a::1]/hook", "unique local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://[::ffff:127.0.0.1]/hook", "IPv4-mapped form of 127.0.0.1"),
        ("http://[::ffff:10.0.0.1]/hook", "IPv4-mapped form of 10.0.0.1"),
        ("http://[2002:a9fe:a9fe::1]/hook", "6to4 form of 169.254.169.254"),
        ("http://[64:ff9b::7f00:1]/hook", "NAT64 form of 127.0.0.1"),
        ("http://2130706433/hook", "loopback"),  # decimal
        ("http://0x7f.1/hook", "loopback"),  # hex, short form
        ("http://0x7f000001/hook", "loopback"),
        ("http://0177.1/hook", "loopback"),  # octal
        ("http://127.1/hook", "loopback"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://0/hook", "unspecified"),
        ("http://[::]/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://[ff02::1]/hook", "multicast"),
        ("http://240.0.0.1/hook", "reserved"),
        ("http://192.0.2.10/hook", "documentation"),
    ],
)
async def test_check_url_refuses_addresses_off_the_public_internet(url: str, reason: str) -> None:
    with pytest.raises(UnsafeWebhookURL) as refused:
        await check_url(url, frozenset())
    assert reason in refused.value.reason
    assert "CUECARD_WEBHOOK_ALLOW_HOSTS" in refused.value.reason


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://user@8.8.8.8/hook", "user name or password"),
        ("https://user:secret@8.8.8.8/hook", "user name or password"),
        ("ftp://8.8.8.8/hook", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://8.8.8.8:70/_", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("http:///hook", "no host"),
        ("not a url", "only http and https"),
        ("http://exa mple.com/hook", "escaped characters"),
        ("http://exa_mple-.com/hook", "not a valid host name"),
        ("http://0177.0.0.1/hook", "not a valid URL"),  # the URL parser refuses this octal form
        ("http://\uff11\uff12\uff17.0.0.1/hook", "not a valid URL"),  # full-width digits
        ("http://[fe80::1%25eth0]/hook", "zone ids"),
    ],
)
async def test_check_url_refuses_what_is_not_a_plain_web_address(url: str, reason: str) -> None:
    with pytest.raises(UnsafeWebhookURL) as refused:
        await check_url(url, frozenset())
    assert reason in refused.value.reason


async def test_an_idn_host_is_checked_in_its_ascii_form() -> None:
    # Allow-listed, so nothing is looked up (no DNS here): the host is matched and stored
    # in its punycode form, the one the client connects to.
    allow = {"xn--bcher-kva.example"}
    assert await check_url("http://BÜCHER.example./hook", allow) == "http://xn--bcher-kva.example/hook"
    assert parse_url("http://bücher.example/hook").host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("http://8.8.8.8/hook", "http://8.8.8.8/hook"),
        ("HTTPS://8.8.8.8.:8443/A?b=1", "https://8.8.8.8:8443/A?b=1"),
        ("https://[2606:4700:4700::1111]/x", "https://[2606:4700:4700::1111]/x"),
        ("http://[2002:808:808::1]/x", "http://[2002:808:808::1]/x"),  # 6to4 of a public address
    ],
)
async def test_check_url_accepts_and_normalizes_public_addresses(url: str, normalized: str) -> None:
    assert await check_url(url, frozenset()) == normalized


def test_every_address_of_the_rule_is_classified() -> None:
    assert address_refusal(ipaddress.ip_address("8.8.8.8")) is None
    assert address_refusal(ipaddress.ip_address("2606:4700:4700::1111")) is None
    assert address_refusal(ipaddress.ip_address("168.63.129.16")) == "cloud metadata address"
    assert address_refusal(ipaddress.ip_address("::127.0.0.1")) is not None  # IPv4-compatible


# --- the allow-list ------------------------------------------------------------------------


async def test_the_allow_list_admits_exactly_the_hosts_it_names() -> None:
    assert await check_url("http://127.0.0.1:9/hook", {"127.0.0.1"}) == "http://127.0.0.1:9/hook"
    assert await check_url("http://LOCALHOST.:9/hook", {"localhost:9"}) == "http://localhost:9/hook"
    assert await check_url("http://[::1]:9/hook", {"[::1]:9"}) == "http://[::1]:9/hook"
    assert await check_url("http://[::1]:9/hook", {"::1"}) == "http://[::1]:9/hook"
    for url, allow in [
        ("http://localhost:9/hook", {"localhost:10"}),  # another port
        ("http://localhost:9/hook", {"127.0.0.1"}),  # the name, not what it resolves to
        ("http://2130706433:9/hook", {"127.0.0.1"}),  # another spelling is another host
        ("http://10.0.0.1/hook", {"10.0.0.10"}),
    ]:
        with pytest.raises(UnsafeWebhookURL):
            await check_url(url, allow)


async def test_an_allow_listed_host_is_not_resolved_at_creation() -> None:
    # The operator vouches for it; the connect-time guard resolves it when delivering.
    url = "https://hooks.invalid/in"
    assert await check_url(url, {"HOOKS.invalid"}) == url


def test_the_setting_parses_a_comma_list_into_lower_case_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUECARD_WEBHOOK_ALLOW_HOSTS", " LocalHost:8080, 127.0.0.1 ,,[::1]")
    assert Settings().webhook_allow_hosts == frozenset({"localhost:8080", "127.0.0.1", "[::1]"})
    monkeypatch.delenv("CUECARD_WEBHOOK_ALLOW_HOSTS")
    assert Settings().webhook_allow_hosts == frozenset()


# --- delivery through the guarded client ----------------------------------------------------


async def test_an_allowed_loopback_receiver_gets_a_signed_post_it_verifies(
    receiver_factory: Callable[..., Awaitable[Receiver]],
) -> None:
    secret = new_secret()
    verified: list[object] = []

    async def verify(request: Received) -> Answer:
        verified.append(standardwebhooks.Webhook(secret).verify(request.body, request.headers))
        return 200, {}, b'{"thanks": true}'

    receiver = await receiver_factory({"/hook": verify})
    url = await check_url(f"http://localhost:{receiver.port}/hook", {f"localhost:{receiver.port}"})
    body = b'{"id":"evt_1","type":"webhook.ping","version":1,"data":{}}'
    headers = signed_headers([secret], "evt_1", dt.datetime.now(dt.UTC), body)

    async with guarded_client({f"localhost:{receiver.port}"}) as client:
        result = await deliver(client, url, content=body, headers=headers)

    assert result.ok, result
    assert (result.status_code, result.body, result.failure) == (200, b'{"thanks": true}', None)
    assert result.latency_ms >= 0
    assert verified == [{"id": "evt_1", "type": "webhook.ping", "version": 1, "data": {}}]
    (request,) = receiver.requests
    # Connected to 127.0.0.1 by address, yet the request still names the host it was sent to.
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert request.headers["content-type"] == "application/json"
    assert request.method == "POST"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "2130706433", "0x7f.1"])
async def test_without_the_allow_list_the_transport_refuses_at_connect_time(
    receiver_factory: Callable[..., Awaitable[Receiver]], host: str
) -> None:
    # The DNS-rebinding case: the URL never went through check_url (or DNS changed since),
    # and the connection itself refuses the loopback address; the receiver sees nothing.
    receiver = await receiver_factory({"/hook": ok})
    url = f"http://{host}:{receiver.port}/hook"
    async with guarded_client(frozenset()) as client:
        result = await deliver(client, url, content=b"{}", headers={})
        assert result.failure == "refused"
        assert result.status_code is None
        assert result.error is not None and "loopback" in result.error
        with pytest.raises(UnsafeWebhookURL):
            await client.post(url, content=b"{}")
    # An allow-list entry for another spelling of the same address does not help either.
    async with guarded_client({f"127.0.0.1:{receiver.port + 1}", "127.0.0.2"}) as client:
        assert (await deliver(client, url, content=b"{}", headers={})).failure == "refused"
    assert receiver.connections == 0
    assert receiver.requests == []


async def test_ipv6_loopback_is_refused_and_admitted_by_its_bracketed_entry() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 204 X\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    try:
        server = await asyncio.start_server(answer, "::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    port = server.sockets[0].getsockname()[1]
    url = f"http://[::1]:{port}/hook"
    try:
        async with guarded_client(frozenset()) as client:
            refused = await deliver(client, url, content=b"{}", headers={})
        assert refused.failure == "refused"
        for allow in ({"::1"}, {"[::1]"}, {f"[::1]:{port}"}):
            async with guarded_client(allow) as client:
                assert (await deliver(client, url, content=b"{}", headers={})).status_code == 204
    finally:
        server.close()
        await server.wait_closed()


async def test_redirects_are_reported_not_followed(
    receiver_factory: Callable[..., Awaitable[Receiver]],
) -> None:
    receiver = await receiver_factory({"/second": ok})

    async def redirect(_: Received) -> Answer:
        return 302, {"location": f"http://127.0.0.1:{receiver.port}/second"}, b""

    receiver.routes["/hook"] = redirect
    async with guarded_client({"127.0.0.1"}) as client:
        result = await deliver(client, f"http://127.0.0.1:{receiver.port}/hook", content=b"{}", headers={})
        assert result.status_code == 302
        assert not result.ok
        response = await client.post(f"http://127.0.0.1:{receiver.port}/hook", content=b"{}")
        assert response.status_code == 302  # the client itself does not follow either
    assert [r.path for r in receiver.requests] == ["/hook", "/hook"]


async def test_the_response_body_is_read_only_up_to_its_bound(
    receiver_factory: Callable[..., Awaitable[Receiver]],
) -> None:
    async def large(_: Received) -> Answer:
        return 500, {}, b"x" * 1_000_000

    async def small(_: Received) -> Answer:
        return 200, {}, b"y" * 1000

    receiver = await receiver_factory({"/large": large, "/small": small})
    base = f"http://127.0.0.1:{receiver.port}"
    async with guarded_client({"127.0.0.1"}) as client:
        big = await deliver(client, f"{base}/large", content=b"{}", headers={}, max_response_bytes=1000)
        fits = await deliver(client, f"{base}/small", content=b"{}", headers={}, max_response_bytes=1000)
    assert (big.status_code, len(big.body), big.truncated) == (500, 1000, True)
    assert (fits.status_code, fits.body, fits.truncated) == (200, b"y" * 1000, False)


async def test_a_receiver_slower_than_the_read_timeout_times_out_quickly(
    receiver_factory: Callable[..., Awaitable[Receiver]],
) -> None:
    async def slow(_: Received) -> Answer:
        await asyncio.sleep(10)
        return 200, {}, b""

    receiver = await receiver_factory({"/slow": slow})
    url = f"http://127.0.0.1:{receiver.port}/slow"
    timeout = httpx.Timeout(connect=1.0, read=0.3, write=1.0, pool=1.0)
    async with guarded_client({"127.0.0.1"}, timeout=timeout) as client:
        started = time.monotonic()
        result = await deliver(client, url, content=b"{}", headers={})
        assert time.monotonic() - started < 3
        assert (result.failure, result.status_code) == ("timeout", None)
        assert result.error == "timed out (ReadTimeout)"
    # The overall deadline bounds an attempt even when each read is within its timeout.
    async with guarded_client({"127.0.0.1"}, timeout=30) as client:
        started = time.monotonic()
        result = await deliver(client, url, content=b"{}", headers={}, deadline_seconds=0.3)
        assert time.monotonic() - started < 3
        assert (result.failure, result.error) == ("timeout", "timed out (deadline)")


def _tls_for_localhost(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for the name `localhost` only (not for 127.0.0.1)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def test_tls_verifies_the_hostname_although_the_connection_goes_to_the_checked_address(
    receiver_factory: Callable[..., Awaitable[Receiver]], tmp_path: Path
) -> None:
    server_tls, client_tls = _tls_for_localhost(tmp_path)
    receiver = await receiver_factory({"/hook": ok}, ssl_context=server_tls)
    allow = {"localhost", "127.0.0.1"}
    async with guarded_client(allow, verify=client_tls) as client:
        by_name = await deliver(client, f"https://localhost:{receiver.port}/hook", content=b"{}", headers={})
        assert by_name.status_code == 204, by_name
        # The certificate names `localhost` only: addressed by IP, verification must fail.
        by_ip = await deliver(client, f"https://127.0.0.1:{receiver.port}/hook", content=b"{}", headers={})
        assert by_ip.failure == "connection" and by_ip.status_code is None
        assert by_ip.error is not None and "CERTIFICATE_VERIFY_FAILED" in by_ip.error
    assert [r.headers["host"] for r in receiver.requests] == [f"localhost:{receiver.port}"]
