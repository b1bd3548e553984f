"""The pitch's use cases: the current pitch for a caller (`read`), re-assembling the stored
pitch when what it shows changes (`projection`), and the usage CRMs report."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from service.auth.principal import Principal
from service.db import transactional
from service.errors import Forbidden, Invalid, NotFound, field_error
from service.pitch import policies, repository
from service.pitch.cache import locale_fallbacks
from service.pitch.models import PitchDocument, PitchUsage
from service.pitch.projection import refresh_all as refresh_all
from service.pitch.projection import refresh_for_evidence as refresh_for_evidence
from service.pitch.projection import refresh_product as refresh_product
from service.pitch.read import RenderedPitch as RenderedPitch
from service.pitch.read import current_pitch as current_pitch
from service.pitch.read import resolve_locale
from service.pitch.schemas import UsageCount, UsageCreate, UsageRecorded, UsageSummary
from service.products import service as products_service


@transactional
async def record_usage(
    session: AsyncSession, principal: Principal, product_key: str, data: UsageCreate
) -> UsageRecorded:
    """Records that a CRM showed, used or copied the pitch (for the version then current)."""
    if not policies.can_report_usage(principal):
        raise Forbidden("Reporting pitch usage needs scope pitch:read.")
    if principal.is_person and data.user_email is not None:
        # A person reports their own use: naming someone else would put words in their mouth.
        raise Invalid(
            "A person reports their own usage; user_email is for integrations reporting for a user.",
            errors=[field_error("user_email", "not accepted from a person's token", type_="forbidden")],
        )
    user_email = principal.email if principal.is_person else data.user_email
    # The version the CRM was shown: the locale the pitch read serves, fallbacks included.
    documents = {
        d.locale: d
        for d in await repository.documents_for_product_key(session, product_key, first_published_first=True)
    }
    served = resolve_locale(list(documents), data.locale, locale_fallbacks(session))
    if served is None:
        raise NotFound(f"Nothing is published for '{product_key}'.")
    document: PitchDocument = documents[served[0]]
    usage = PitchUsage(
        product_key=product_key,
        locale=document.locale,
        brief_id=document.brief_id,
        version=document.version,
        audience=data.audience,
        event=data.event,
        opportunity_ref=data.opportunity_ref,
        user_email=user_email.lower() if user_email else None,
        client_id=principal.client_id,
    )
    await repository.add_usage(session, usage)
    return UsageRecorded(
        id=usage.id,
        product_key=product_key,
        version=usage.version,
        event=usage.event,
        occurred_at=usage.occurred_at,
    )


async def usage_summary(session: AsyncSession, principal: Principal, product_key: str) -> UsageSummary:
    """Counts pitch usage per version, locale, audience and event."""
    if not policies.can_see_usage(principal):
        raise Forbidden("Editors and admins see pitch usage.")
    rows = await repository.usage_summary(session, product_key)
    return UsageSummary(product_key=product_key, counts=[UsageCount(**row._mapping) for row in rows])


async def watchable_product(session: AsyncSession, principal: Principal, product_key: str) -> str:
    """Checks the caller may follow `product_key`'s pitch changes: whoever may read the pitch
    (403 otherwise, as the pitch read answers), for a product that exists (404), published yet
    or not (a CRM may wait for its first publish). Returns the key."""
    if not policies.can_read(principal):
        raise Forbidden("This token may not read pitches (scope pitch:read).")
    if await products_service.find_product(session, principal, product_key) is None:
        raise NotFound(f"No product '{product_key}'.")
    return product_key
