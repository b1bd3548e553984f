"""Settings: every knob is an environment variable with the CUECARD_ prefix."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_SECRET_BYTES = 32
LOCALE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUECARD_", env_file=None, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    var_dir: Path = Path("./var")
    database_url: str = ""
    log_level: str = "INFO"
    log_json: bool = True
    # FastAPI's native OpenTelemetry (docs/deploy.md): off, no request pays its provider check.
    opentelemetry: bool = False

    # Database behaviour under load: fail fast (503 + Retry-After) rather than queue forever.
    # Twenty kept, none beyond: a worker serving more requests at once than its pool held
    # opened an overflow connection per request and closed it on return (an asyncpg connect
    # with its TLS probe, a new backend, statements prepared afresh): at 16 connections ~15 %
    # of a page's throughput and twice its p99 (docs/benchmarks.md). The cap is 20 either way.
    db_pool_size: int = 20
    db_max_overflow: int = 0
    db_pool_timeout_seconds: float = 2.0
    db_statement_timeout_ms: int = 10_000
    db_connect_timeout_seconds: float = 5.0
    # A pooled connection idle this long is pinged before use (service/db.py ping_when_idle).
    db_ping_after_idle_seconds: float = 5.0

    # Own token issuer.
    jwt_secret: str | None = None
    jwt_private_key_file: Path | None = None
    jwt_issuer: str = "cuecard"
    jwt_audience: str = "cuecard-api"
    jwt_leeway_seconds: int = 30
    access_token_ttl_seconds: int = 3600
    client_token_ttl_seconds: int = 900

    # External OpenID Connect issuer (an identity provider).
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_role_claim: str = "roles"
    oidc_role_map: str = ""
    oidc_jwks_cache_seconds: int = 600
    # How long a process trusts its cached copy of a caller's record (role, active, client
    # state) without a change notice; changes made through CueCard reach every replica at once.
    auth_cache_seconds: int = 30
    # How long a repeated read's answer may be served from memory (service/readcache.py):
    # writes through CueCard end it at once on every replica; this bounds what the clock
    # alone changes (a step falling due). 0 turns the cache off.
    read_cache_seconds: float = Field(default=5.0, ge=0)

    # Request limits.
    max_body_bytes: int = 1024 * 1024
    max_batch_body_bytes: int = 16 * 1024 * 1024
    max_authorization_header_bytes: int = 8 * 1024
    token_failures_per_minute: int = 10  # per client id AND source address

    # GraphQL guards (docs/deploy.md): checked before any resolver runs.
    graphql_max_depth: int = 8
    graphql_max_aliases: int = 30
    graphql_max_tokens: int = 2000  # lexical tokens (and, separately, comments) in a document
    graphql_max_document_chars: int = 32_768  # code points; send long texts as variables
    # Estimated objects looked up (lists by `first`, else the page cap): refused with
    # QUERY_TOO_COMPLEX above it. 50 people with department and manager cost ~200.
    graphql_max_cost: int = 25_000
    graphql_introspection: bool | None = None  # default: on, except in production
    graphiql: bool | None = None  # CUECARD_GRAPHIQL; default: on, except in production

    # Extra value-word lint lists (<lang>.txt files) merged into the shipped ones. create_app
    # (and the CLI) build this app's lint.WordLists from it and hand them to the services.
    lint_words_dir: Path | None = None

    # Loop targets: days allowed to reach each stage from the previous one (`stage=days,...`).
    feedback_loop_days: str = "triaged=2,decided=14,implemented=30,announced=7"
    max_batch_items: int = 10_000

    # The clock (service/events/clock.py, docs/events.md): evidence.expiring fires this many
    # days before a claim's verify_by; check.waiting once a submitted check waited this long
    # for a grade. Nothing that fell due longer ago than the lookback fires at all: a new
    # deployment, or one back from a long outage, does not replay its history as events.
    evidence_expiring_days: int = Field(default=14, ge=1, le=365)
    check_waiting_hours: int = Field(default=48, ge=1, le=24 * 365)
    clock_lookback_days: int = Field(default=7, ge=1, le=365)

    # Where callers reach this service (`https://cuecard.example.com`): the base of absolute
    # URLs in responses (Link rel="next", SCIM meta.location). Unset: those URLs are relative.
    # Never taken from the request's Host header, which the caller controls.
    public_url: str | None = None
    # Production only: /metrics needs `Authorization: Bearer <this>`; unset, /metrics is 404.
    metrics_token: str | None = None

    # SCIM: a POST naming a person whose SCIM identity was deleted relinks that person (same
    # row and history, active again) instead of answering 409 uniqueness.
    scim_relink: bool = False
    # SCIM Groups that grant a role instead of standing for a department:
    # `Group display name=role,...`, e.g. `CueCard Editors=editor,CueCard Admins=admin`.
    scim_role_groups: str = ""

    # Webhook hosts exempt from the SSRF guard (service/webhooks/ssrf.py), which otherwise
    # refuses URLs resolving to loopback, private, link-local or metadata addresses:
    # `host` or `host:port`, comma-separated, matched exactly and case-insensitively.
    webhook_allow_hosts: Annotated[frozenset[str], NoDecode] = frozenset()
    # After `rotate-secret`, how long the old webhook secret keeps signing beside the new one.
    webhook_secret_overlap_hours: int = Field(default=24, ge=0, le=720)
    # Delivery (service/webhooks/delivery.py): a failed attempt is retried after a random wait
    # between 0 and min(cap, base * 2^(attempt-1)) ("full jitter"), until the give-up window
    # since the delivery was created has passed (then it is `failed`; redeliver sends it again).
    webhook_retry_base_seconds: float = Field(default=10.0, gt=0, le=3600)
    webhook_retry_cap_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    webhook_give_up_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    # An endpoint whose newest N attempts all failed, the first of them at least H hours ago,
    # is paused (`active: false`, `paused_reason`) until an admin resumes it.
    webhook_pause_after_failures: int = Field(default=10, ge=1, le=10_000)
    webhook_pause_after_hours: float = Field(default=1.0, ge=0, le=24 * 30)
    # One attempt's whole time (connect, send, read the answer); a claimed delivery is leased
    # for longer, and a lease that ran out (its worker died) is claimed again.
    webhook_delivery_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    webhook_delivery_lease_seconds: float = Field(default=120.0, gt=0, le=3600)

    # E-mail to people (service/notifications): `smtp://[user:password@]host[:port]`
    # (`smtps://` for TLS from the start; `?starttls=true` to upgrade). Unset: no e-mail (the
    # feed and chat still work). E-mail links are absolute, so it needs CUECARD_PUBLIC_URL.
    smtp_url: str | None = None
    mail_from: str | None = None
    # Operators' own templates (`<kind>.<locale>.{subject,txt,html}`) override the shipped ones.
    templates_dir: Path | None = None
    # A notification that could not be sent is retried like a webhook delivery (full jitter
    # between 0 and min(cap, base * 2^(attempt-1))) until the give-up window has passed.
    notification_retry_base_seconds: float = Field(default=30.0, gt=0, le=3600)
    notification_retry_cap_seconds: float = Field(default=3600.0, gt=0, le=86_400)
    notification_give_up_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    notification_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    notification_lease_seconds: float = Field(default=120.0, gt=0, le=3600)
    # A person who has not acknowledged a due step is reminded this long after it fell due
    # (and again after as long), at most this many times.
    reminder_after_hours: float = Field(default=48.0, gt=0, le=24 * 60)
    reminder_max: int = Field(default=2, ge=0, le=20)
    # The local hour (the person's time zone) a daily digest goes out.
    digest_hour: int = Field(default=8, ge=0, le=23)

    # The worker (service/worker.py): `cuecard serve` runs one in each API process unless this
    # is false (then run `cuecard worker` on its own); it looks for work this often.
    embedded_worker: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # How often it looks for what time made due (steps, evidence, overdue feedback, checks).
    clock_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    # Events are kept this long for streams resuming with Last-Event-ID (older ones are
    # pruned by the worker; a resume from before the oldest kept event gets `event: reset`).
    event_retention_hours: int = Field(default=72, ge=1, le=24 * 90)
    # Live streams (SSE): a `: keep-alive` comment this often, so proxies keep the connection
    # and a gone client is noticed; a stream ends after `sse_max_stream_seconds` (the client
    # reconnects with Last-Event-ID, and is authenticated again: a revoked token stops there).
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    sse_max_stream_seconds: float = Field(default=1800.0, gt=0)
    sse_retry_milliseconds: int = Field(default=3000, ge=0, le=600_000)

    # The pitch's locale fallbacks: `en:ja,de:en` = asked for en with none published, serve ja;
    # for de, en (and from there ja). A language with no entry (or all, when unset) falls back
    # to the locale the product was first published in. Tags match as BCP 47 (`en-US` → `en`).
    locale_fallbacks: str = ""
    # "You asked — it's fixed": `GET /api/v1/pitch/{key}?account=` leads with the fixes
    # announced to sales this many days back or fewer for that account's feedback (0: never).
    pitch_fixed_for_days: int = Field(default=90, ge=0, le=3650)

    idempotency_ttl_hours: int = 24
    # A key whose request died mid-way (database cut) is free again after this long.
    idempotency_claim_seconds: float = 60.0
    shutdown_grace_seconds: int = 15

    @field_validator("jwt_secret")
    @classmethod
    def _secret_long_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"CUECARD_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
        return value

    @field_validator("webhook_allow_hosts", mode="before")
    @classmethod
    def _split_allow_hosts(cls, value: object) -> object:
        items = value.split(",") if isinstance(value, str) else value
        if isinstance(items, (list, tuple, set, frozenset)):
            return frozenset(str(h).strip().lower() for h in items if str(h).strip())
        return value

    @field_validator("locale_fallbacks")
    @classmethod
    def _fallback_pairs(cls, value: str) -> str:
        seen: set[str] = set()
        for pair in filter(None, (p.strip() for p in value.split(","))):
            asked, _, served = (part.strip() for part in pair.partition(":"))
            if not (LOCALE_TAG.fullmatch(asked) and LOCALE_TAG.fullmatch(served)) or asked.lower() in seen:
                raise ValueError(
                    "CUECARD_LOCALE_FALLBACKS takes `locale:fallback,...` with BCP 47 tags, one entry"
                    f" per locale, e.g. `en:ja,de:en` (not {pair!r})"
                )
            seen.add(asked.lower())
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url_is_a_base(cls, value: str | None) -> str | None:
        if not value:
            return None
        parsed = urlsplit(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
            raise ValueError(
                "CUECARD_PUBLIC_URL must be an http(s) base URL, e.g. https://cuecard.example.com"
            )
        return value.rstrip("/")

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_names_a_server(cls, value: str | None) -> str | None:
        if not value:
            return None
        parsed = urlsplit(value)
        if parsed.scheme not in ("smtp", "smtps") or not parsed.hostname:
            raise ValueError(
                "CUECARD_SMTP_URL must be smtp://[user:password@]host[:port] (?starttls=true to upgrade) or smtps://…"
            )
        try:
            parsed.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError as exc:
            raise ValueError("CUECARD_SMTP_URL has a port that is not a number") from exc
        return value

    @model_validator(mode="after")
    def _production_needs_a_key(self) -> Settings:
        if self.env == "production" and not (self.jwt_secret or self.jwt_private_key_file):
            raise ValueError(
                "CUECARD_ENV=production requires CUECARD_JWT_SECRET or CUECARD_JWT_PRIVATE_KEY_FILE"
            )
        unknown = {
            r
            for r in self.scim_role_group_map.values()
            if r not in ("admin", "editor", "manager", "employee")
        }
        if unknown or "" in self.scim_role_group_map:
            raise ValueError(
                "CUECARD_SCIM_ROLE_GROUPS takes `Group name=role,...` with roles admin, editor, manager, employee"
            )
        if self.webhook_delivery_lease_seconds <= self.webhook_delivery_timeout_seconds:
            raise ValueError(
                "CUECARD_WEBHOOK_DELIVERY_LEASE_SECONDS must exceed CUECARD_WEBHOOK_DELIVERY_TIMEOUT_SECONDS"
            )
        if self.smtp_url and not (self.public_url and self.mail_from):
            raise ValueError(
                "CUECARD_SMTP_URL needs CUECARD_PUBLIC_URL (e-mail links are absolute) and CUECARD_MAIL_FROM"
            )
        if self.oidc_issuer and not (self.oidc_jwks_url and self.oidc_audience):
            raise ValueError("CUECARD_OIDC_ISSUER needs CUECARD_OIDC_JWKS_URL and CUECARD_OIDC_AUDIENCE")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.var_dir / 'cuecard.db').as_posix()}"

    @property
    def introspection_enabled(self) -> bool:
        if self.graphql_introspection is None:
            return self.env != "production"
        return self.graphql_introspection

    @property
    def graphiql_enabled(self) -> bool:
        if self.graphiql is None:
            return self.env != "production"
        return self.graphiql

    @property
    def oidc_roles(self) -> dict[str, str]:
        """Parse `idp-value=role,idp-value=role` into a mapping."""
        mapping: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in self.oidc_role_map.split(","))):
            source, _, role = pair.partition("=")
            if role.strip():
                mapping[source.strip()] = role.strip()
        return mapping

    @property
    def scim_role_group_map(self) -> dict[str, str]:
        """`CUECARD_SCIM_ROLE_GROUPS` as {lower-cased group name: role}."""
        mapping: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in self.scim_role_groups.split(","))):
            name, _, role = pair.rpartition("=")
            mapping[name.strip().lower()] = role.strip()
        return mapping

    @property
    def locale_fallback_map(self) -> dict[str, str]:
        """`CUECARD_LOCALE_FALLBACKS` as {lower-cased locale: its fallback}."""
        mapping: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in self.locale_fallbacks.split(","))):
            asked, _, served = pair.partition(":")
            mapping[asked.strip().lower()] = served.strip()
        return mapping

    @property
    def feedback_loop_targets(self) -> dict[str, int]:
        """Days allowed per loop stage, e.g. {"triaged": 2, "decided": 14, ...}."""
        targets: dict[str, int] = {}
        for pair in filter(None, (p.strip() for p in self.feedback_loop_days.split(","))):
            stage, _, days = pair.partition("=")
            targets[stage.strip()] = int(days)
        return targets

    def own_hs256_secret(self) -> str:
        """The HS256 secret: configured, or (outside production) generated once under var/."""
        if self.jwt_secret:
            return self.jwt_secret
        if self.env == "production":  # pragma: no cover - the validator refuses this already
            raise RuntimeError("no JWT secret configured")
        path = self.var_dir / "jwt_secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def get_settings() -> Settings:
    return Settings()
