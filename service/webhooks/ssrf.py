"""The SSRF guard for webhook URLs: at creation (`check_url`) and at connect time (`guarded_client`).

A webhook URL is chosen by a caller, and CueCard then sends requests to it from inside the
network. So a URL whose host resolves to loopback, link-local, private, shared (CGNAT),
reserved or cloud-metadata addresses is refused, unless an operator names the host in
`CUECARD_WEBHOOK_ALLOW_HOSTS`. Checking at creation is not enough: DNS may answer differently
when the delivery connects (DNS rebinding). The client's network backend therefore resolves
the host itself, checks every address with the same rule and connects only to an address it
checked; the request keeps its Host header, and TLS its SNI name and certificate check, for
the original hostname.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeWebhookURL(ValueError):
    """A webhook URL CueCard will not call; `reason` says why (the API answers 422 with it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Instance-metadata services: AWS/GCP/Azure/OpenStack (and ECS task metadata), AWS over IPv6,
# Alibaba, Oracle, Azure's wire server (a public address, hence listed by name).
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "100.100.100.200",
        "192.0.0.192",
        "168.63.129.16",
    )
)

# Spelled out rather than left to `is_private` alone, whose lists changed between Python
# patch releases; the `ipaddress` flags still run after these as a second net.
_REFUSED_NETWORKS: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "unspecified (this network)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (CGNAT, RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("100::/64", "discard-only"),
        ("2001:db8::/32", "documentation"),
        ("fc00::/7", "unique local (ULA)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def address_refusal(address: IPAddress) -> str | None:
    """Return why a webhook may not connect to this address, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        address = ipaddress.IPv6Address(address.compressed.split("%")[0])  # drop any zone id
        embedded: ipaddress.IPv4Address | None = None
        form = ""
        if address.ipv4_mapped is not None:
            embedded, form = address.ipv4_mapped, "IPv4-mapped"
        elif address.sixtofour is not None:
            embedded, form = address.sixtofour, "6to4"
        elif any(address in net for net in _NAT64):
            embedded, form = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
        if embedded is not None:
            inner = address_refusal(embedded)
            if inner is not None:
                return f"{form} form of {embedded} ({inner})"
    if address in METADATA_ADDRESSES:
        return "cloud metadata address"
    for network, reason in _REFUSED_NETWORKS:
        if address.version == network.version and address in network:
            return reason
    for flag in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{flag}"):
            return flag.replace("_", "-")
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if not address.is_global:
        return "not a public address"
    return None


_HEXISH = re.compile(r"^[0-9a-fx.]+$")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def _literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself: dotted quad, IPv6, or the legacy IPv4 spellings
    (`2130706433`, `0x7f.1`, `0177.1`) that resolvers still accept."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _HEXISH.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart the way the HTTP client will use it."""

    url: str  # normalized: lower-case scheme and host, IDN in punycode, no trailing dot
    scheme: str
    host: str  # ASCII; IPv6 without brackets
    port: int  # explicit or the scheme's default


def parse_url(url: str) -> Target:
    """Take a webhook URL apart with the client's own parser, refusing what it must not be."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UnsafeWebhookURL(f"not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise UnsafeWebhookURL("only http and https URLs can receive webhooks")
    if parsed.userinfo:
        raise UnsafeWebhookURL("URLs with a user name or password are not accepted")
    host = parsed.raw_host.decode("ascii").lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise UnsafeWebhookURL("the URL has no host")
    if "%" in host:
        raise UnsafeWebhookURL("IPv6 zone ids and escaped characters are not accepted in the host")
    if _literal_address(host) is None and not all(_LABEL.match(label) for label in host.split(".")):
        raise UnsafeWebhookURL(f"{host!r} is not a valid host name")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    normalized = parsed.copy_with(host=host) if host != parsed.raw_host.decode("ascii") else parsed
    return Target(url=str(normalized), scheme=parsed.scheme, host=host, port=port)


def host_allowed(host: str, port: int, allow_hosts: Iterable[str]) -> bool:
    """Whether the allow-list names this host (exact, case-insensitive), alone or as host:port."""
    host = host.lower().rstrip(".")
    shown = f"[{host}]" if ":" in host else host
    keys = {host, shown, f"{shown}:{port}"}
    return any(entry.strip().lower() in keys for entry in allow_hosts)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address a host resolves to (a literal address resolves to itself)."""
    literal = _literal_address(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeWebhookURL(f"{host} does not resolve: {exc}") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeWebhookURL(f"{host} does not resolve")
    return addresses


def refuse_unsafe(host: str, addresses: Iterable[IPAddress]) -> None:
    """Raise UnsafeWebhookURL if ANY of the host's addresses is one a webhook may not reach."""
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None:
            raise UnsafeWebhookURL(
                f"{host} resolves to {address} ({reason}); webhooks only go to public addresses "
                "unless the host is in CUECARD_WEBHOOK_ALLOW_HOSTS"
            )


async def check_url(url: str, allow_hosts: Iterable[str], *, resolve_timeout: float = 5.0) -> str:
    """Return the normalized URL, or raise UnsafeWebhookURL saying why it is refused.

    An allow-listed host is not resolved: the operator vouches for it, whatever it resolves to.
    """
    target = parse_url(url)
    if not host_allowed(target.host, target.port, allow_hosts):
        try:
            async with asyncio.timeout(resolve_timeout):
                addresses = await resolve(target.host, target.port)
        except TimeoutError:
            raise UnsafeWebhookURL(f"{target.host} did not resolve within {resolve_timeout:g}s") from None
        refuse_unsafe(target.host, addresses)
    return target.url


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that connects only to addresses it resolved and checked itself.

    httpcore hands `connect_tcp` the URL's host; TLS (`start_tls`) then runs on the returned
    stream with that same hostname as SNI and for certificate verification.
    """

    def __init__(self, allow_hosts: Iterable[str]) -> None:
        self._allow_hosts = frozenset(h.strip().lower() for h in allow_hosts)
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        name = host.lower().rstrip(".")
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve(name, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {name} timed out") from None
        except UnsafeWebhookURL as exc:  # a lookup failing now may work later: retry, not refuse
            raise httpcore.ConnectError(exc.reason) from None
        if not host_allowed(name, port, self._allow_hosts):
            refuse_unsafe(name, addresses)
        last_error: Exception | None = None
        for address in addresses:  # every one checked above; connect by address, not by name
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # resolve() never returns an empty list
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeWebhookURL("webhooks are not delivered over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with its connection pool on the guarded network backend."""

    def __init__(
        self,
        allow_hosts: Iterable[str],
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = httpx.Limits(max_connections=20, max_keepalive_connections=10),
    ) -> None:
        super().__init__(verify=verify, trust_env=False, limits=limits)
        # httpx builds its pool without a network-backend hook, so build the same pool again
        # with one; no proxy (a proxy would make the connection the guard checks the proxy's).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=GuardedNetworkBackend(allow_hosts),
        )


DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=5.0)
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "CueCard-Webhooks/1"


def guarded_client(
    allow_hosts: Iterable[str],
    *,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    verify: ssl.SSLContext | bool = True,
    limits: httpx.Limits = httpx.Limits(max_connections=20, max_keepalive_connections=10),
) -> httpx.AsyncClient:
    """An httpx client for webhook deliveries: guarded connects, no redirects, no env proxies."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_hosts, verify=verify, limits=limits),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
    )


Failure = Literal["refused", "timeout", "connection", "protocol"]


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt did: the status (None if no response), latency, a bounded body."""

    status_code: int | None
    latency_ms: int
    body: bytes = b""
    truncated: bool = False
    failure: Failure | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and self.status_code is not None and 200 <= self.status_code < 300


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    deadline_seconds: float = 30.0,
) -> DeliveryResult:
    """POST one delivery and report it; never raises for what the receiver or network does.

    Reads at most `max_response_bytes` of the answer (raw, so a compressed body cannot
    inflate), and gives up after `deadline_seconds` in all, however slowly a receiver drips.
    """
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    status: int | None = None
    chunks: list[bytes] = []
    size = 0
    truncated = False
    try:
        async with asyncio.timeout(deadline_seconds):
            async with client.stream(
                "POST",
                url,
                content=content,
                headers={"content-type": "application/json", **headers, "accept-encoding": "identity"},
                follow_redirects=False,
            ) as response:
                status = response.status_code
                async for chunk in response.aiter_raw():
                    room = max_response_bytes - size
                    if len(chunk) > room:
                        chunks.append(chunk[:room])
                        truncated = True
                        break
                    chunks.append(chunk)
                    size += len(chunk)
    except UnsafeWebhookURL as exc:
        return DeliveryResult(None, elapsed(), failure="refused", error=exc.reason)
    except (TimeoutError, httpx.TimeoutException) as exc:
        what = type(exc).__name__ if isinstance(exc, httpx.TimeoutException) else "deadline"
        return DeliveryResult(status, elapsed(), failure="timeout", error=f"timed out ({what})")
    except (httpx.ConnectError, httpx.NetworkError) as exc:
        return DeliveryResult(status, elapsed(), failure="connection", error=f"{type(exc).__name__}: {exc}")
    except httpx.HTTPError as exc:
        return DeliveryResult(status, elapsed(), failure="protocol", error=f"{type(exc).__name__}: {exc}")
    return DeliveryResult(status, elapsed(), body=b"".join(chunks), truncated=truncated)
