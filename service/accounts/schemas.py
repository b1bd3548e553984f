"""Inputs and outputs for customer accounts: who the customer voice comes from, and what it weighs."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from service.fields import InputModel, Name, ReadModel, Slug

# ISO 4217 alphabetic codes in use (currencies, not funds or metals): a typo such as "YEN" or
# "usd" is refused rather than becoming a currency of its own in every revenue total.
_ISO_4217_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED
    VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
ISO_4217 = frozenset(_ISO_4217_CODES.split())
# At most 16 digits before the point and 4 after (the column is NUMERIC(20, 4)); no sign, no
# exponent: a revenue is a plain non-negative decimal, sent as a string so no float touches it.
AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,15})(\.[0-9]{1,4})?$"
AMOUNT_SCALE = 4


class AccountSegment(StrEnum):
    """The customer's segment, as sales segments its territory."""

    ENTERPRISE = "enterprise"
    MID_MARKET = "mid_market"
    SMB = "smb"
    PUBLIC_SECTOR = "public_sector"


def segment_of(text: str | None) -> AccountSegment | None:
    """A free-text segment as feedback carries it ("mid-market", "SMB") read as a value of the
    set, or None when it names none of them."""
    if not text:
        return None
    normalised = "_".join(text.strip().lower().replace("-", " ").split())
    try:
        return AccountSegment(normalised)
    except ValueError:
        return None


Amount = Annotated[
    str,
    StringConstraints(pattern=AMOUNT_PATTERN, max_length=21),
    Field(description='A non-negative decimal string, up to 4 decimals (e.g. "125000000", "1999.99").'),
]
Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$", min_length=3, max_length=3),
    Field(description="ISO 4217 alphabetic code, upper case (e.g. JPY, USD, EUR)."),
]


class Money(InputModel):
    """An amount in one currency. No exchange rates: amounts in different currencies are never added."""

    amount: Amount
    currency: Currency

    def decimal(self) -> Decimal:
        return Decimal(self.amount)


class MoneyRead(BaseModel):
    amount: str = Field(description="Decimal string (no float), trailing zeros dropped.")
    currency: str


def money_text(amount: Decimal) -> str:
    """A stored amount as the API writes it: plain digits, no exponent, no trailing zeros."""
    text = format(amount.quantize(Decimal(1).scaleb(-AMOUNT_SCALE)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class AccountCreate(InputModel):
    """A customer account. `key` (a URL-safe slug, unique) is derived from the name when omitted;
    `name` is unique too: feedback names an account by either."""

    key: Slug | None = None
    name: Name
    segment: AccountSegment | None = None
    annual_revenue: Money | None = None


class AccountUpdate(InputModel):
    """Fields to change; omitted ones stay. `segment` and `annual_revenue` may be null (cleared)."""

    key: Slug | None = None
    name: Name | None = None
    segment: AccountSegment | None = None
    annual_revenue: Money | None = None


class AccountMerge(InputModel):
    """Merge this account into another (the same customer): its feedback moves to `into`."""

    into: uuid.UUID


class AccountRead(ReadModel):
    id: uuid.UUID
    key: str
    name: str
    segment: AccountSegment | None
    annual_revenue: MoneyRead | None
    merged_into_id: uuid.UUID | None = Field(
        description="Set once merged: the account it became (its key and name still resolve to it)."
    )
    created_at: datetime
    updated_at: datetime
    revision: int
