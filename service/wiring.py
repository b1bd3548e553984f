"""Connects domains that react to each other's changes without importing each other.

Every entry point calls `connect_domains` before it serves anything (`create_app`, the CLI):
the list below is the whole of who listens to whom.
"""

from __future__ import annotations

from typing import Any

from service.accounts import hooks as accounts_hooks
from service.briefs import service as briefs_service
from service.campaigns import clock as campaigns_clock
from service.campaigns import enrollment
from service.config import Settings
from service.events import clock, sequencer
from service.events import service as events_service
from service.events.catalogue import EventType
from service.evidence import clock as evidence_clock
from service.feedback import accounts as feedback_accounts
from service.feedback import clock as feedback_clock
from service.messages import lint
from service.messages import service as messages_service
from service.notifications import fanout as notifications_fanout
from service.notifications import reminders as notifications_reminders
from service.people import hooks as people_hooks
from service.search import index as search_index
from service.webhooks import delivery as webhook_delivery


def connect_domains() -> None:
    """Registers each domain's handlers for the others' changes (idempotent)."""
    # A new hire, a move or a leaver re-decides their campaigns in the same transaction.
    people_hooks.on_person_changed(enrollment.follow_person)
    # Two accounts found to be one customer: their feedback moves to the survivor, in the merge.
    accounts_hooks.on_accounts_merged(feedback_accounts.follow_account_merge)
    # Each sequenced event becomes a delivery per webhook that wants it, in the numbering's
    # transaction (so exactly once); the worker's `deliver_due` sends them.
    sequencer.on_sequenced(webhook_delivery.fan_out)
    # ... and the notification rows it causes (e-mail, chat posts, intranet records) for the
    # people it concerns; the worker's sender sends the pending ones (service/notifications).
    sequencer.on_sequenced(notifications_fanout.fan_out)
    # An event whose delivery still waits outlives the retention window.
    events_service.keep_while_needed(webhook_delivery.not_awaiting_delivery)
    # What falls due as time passes: the worker's clock asks each domain (service/events/clock.py).
    clock.register_detector("campaign.step_due", campaigns_clock.steps_due)
    clock.register_detector("evidence.expiring", evidence_clock.evidence_expiring)
    clock.register_detector("evidence.expired", evidence_clock.evidence_expired)
    clock.register_detector("feedback.overdue", feedback_clock.feedback_overdue)
    clock.register_detector("check.waiting", campaigns_clock.checks_waiting)
    clock.register_detector("campaign.reminder_due", notifications_reminders.reminders_due)
    clock.register_detector("campaign.person_overdue", notifications_reminders.people_overdue)
    # Approved content scheduled for later goes live; messages past their expiry leave the pitch.
    clock.register_detector("brief.go_live", briefs_service.go_live_due)
    clock.register_detector("message.go_live", messages_service.go_live_due)
    clock.register_detector("message.expire", messages_service.expire_due)
    # What fired is pruned, past the lookback, only where its detector can never find it again.
    clock.prune_when(EventType.FEEDBACK_OVERDUE, clock.past_lookback)  # keyed by due time
    clock.prune_when(EventType.EVIDENCE_EXPIRED, clock.past_lookback)  # keyed by verify_by
    clock.prune_when(EventType.EVIDENCE_EXPIRING, clock.due_on_before_lookback)  # window ahead of today
    clock.prune_when(EventType.CHECK_WAITING, campaigns_clock.check_graded)
    for about_a_campaign in (
        EventType.CAMPAIGN_STEP_DUE,
        EventType.CAMPAIGN_REMINDER_DUE,
        EventType.CAMPAIGN_PERSON_OVERDUE,
    ):
        clock.prune_when(about_a_campaign, campaigns_clock.campaign_closed)
    # Content written through the ORM is indexed for search in its own transaction.
    search_index.follow_content()


def session_info(settings: Settings, word_lists: lint.WordLists | None = None) -> dict[str, Any]:
    """What every session of an entry point carries (its sessionmaker's `info`): the settings,
    and the lint word lists the services that shape messages and briefs need. The app adds its
    caches; the CLI and in-process loaders need only these."""
    lists = word_lists if word_lists is not None else lint.WordLists.from_settings(settings)
    return {"settings": settings, **lint.session_info(lists)}
