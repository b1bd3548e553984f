"""Standard Webhooks signing: what receivers verify with the public `standardwebhooks` library."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
import standardwebhooks

from service.webhooks.signing import new_secret, signed_headers

BODY = b'{"id":"evt_1","type":"pitch.changed","version":1,"data":{"product_key":"acme"}}'


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_the_headers_verify_with_the_public_library() -> None:
    secret = new_secret()
    now = dt.datetime.now(dt.UTC)
    headers = signed_headers([secret], "evt_1", now, BODY)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert standardwebhooks.Webhook(secret).verify(BODY, headers)["type"] == "pitch.changed"
    # The same message as text signs the same way.
    assert signed_headers([secret], "evt_1", now, BODY.decode()) == headers


def test_a_timestamp_in_another_zone_or_as_seconds_signs_the_same_instant() -> None:
    secret = new_secret()
    now = dt.datetime.now(dt.UTC)
    seconds = int(now.timestamp())
    elsewhere = now.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert signed_headers([secret], "m", elsewhere, BODY) == signed_headers([secret], "m", seconds, BODY)
    standardwebhooks.Webhook(secret).verify(BODY, signed_headers([secret], "m", elsewhere, BODY))
    with pytest.raises(ValueError, match="timezone-aware"):
        signed_headers([secret], "m", dt.datetime.now(), BODY)  # naive on purpose


def test_during_a_rotation_both_secrets_sign_and_either_receiver_verifies() -> None:
    old, new = new_secret(), new_secret()
    headers = signed_headers([new, old], "evt_2", dt.datetime.now(dt.UTC), BODY)
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    standardwebhooks.Webhook(old).verify(BODY, headers)  # a receiver not yet updated
    standardwebhooks.Webhook(new).verify(BODY, headers)  # a receiver already on the new secret
    # Once the overlap ends only the new secret signs, and the old one no longer verifies.
    after = signed_headers([new], "evt_3", dt.datetime.now(dt.UTC), BODY)
    standardwebhooks.Webhook(new).verify(BODY, after)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(old).verify(BODY, after)


def test_a_tampered_body_or_another_secret_does_not_verify() -> None:
    secret = new_secret()
    headers = signed_headers([secret], "evt_4", dt.datetime.now(dt.UTC), BODY)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(BODY.replace(b"acme", b"evil"), headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(BODY, {**headers, "webhook-id": "evt_5"})


def test_signing_needs_a_secret_and_an_id() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        signed_headers([], "evt", 0, BODY)
    with pytest.raises(ValueError, match="msg_id"):
        signed_headers([new_secret()], "", 0, BODY)
    secret = new_secret()
    once = signed_headers([secret, secret], "evt", 1_700_000_000, BODY)
    assert len(once["webhook-signature"].split(" ")) == 1
