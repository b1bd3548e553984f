"""ETags from row versions, and the If-Match rule services apply before a write."""

from __future__ import annotations

from service.errors import PreconditionFailed, PreconditionRequired


def etag(revision: int) -> str:
    """A strong entity tag for one revision of a resource."""
    return f'"v{revision}"'


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


def if_none_match_hits(header: str | None, current: str) -> bool:
    """If-None-Match uses weak comparison: W/"v3" matches "v3"."""
    if not header:
        return False
    if header == current:  # what a client that kept our ETag sends back
        return True
    tags = _tags(header)
    return "*" in tags or current.removeprefix("W/") in (t.removeprefix("W/") for t in tags)


def check_if_match(header: str | None, current: str, *, required: bool) -> None:
    """Refuse a write whose If-Match is missing (when required) or names another version."""
    if not header:
        if required:
            raise PreconditionRequired(
                "This resource changes concurrently: send If-Match with the ETag you last read."
            )
        return
    tags = _tags(header)
    # If-Match uses strong comparison: a weak tag never matches.
    if "*" not in tags and current not in tags:
        raise PreconditionFailed(f"The resource has changed since you read it; its ETag is now {current}.")
