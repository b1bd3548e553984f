"""Every table, imported in one place so Alembic and the tests see the whole metadata."""

from service.accounts.models import Account
from service.briefs.models import Brief, BriefEvidence
from service.campaigns.models import Acknowledgement, Attendance, Campaign, Check, Enrollment
from service.clients.models import ApiToken, ServiceClient
from service.events.clock_models import ClockOccurrence
from service.events.models import OutboxEvent
from service.evidence.models import Evidence
from service.feedback.models import FeedbackItem, FeedbackTransition, Theme
from service.groups.models import DirectoryGroup, DirectoryGroupMember
from service.idempotency.models import IdempotencyRecord
from service.messages.models import Message, MessageEvidence
from service.notifications.models import ChatDestination, Notification, NotificationPreferences
from service.people.models import Department, Person
from service.pitch.models import PitchDocument, PitchUsage
from service.products.models import Product
from service.search.models import SearchDocument
from service.webhooks.models import Webhook, WebhookDelivery, WebhookDeliveryAttempt

__all__ = [
    "Account",
    "Acknowledgement",
    "ApiToken",
    "Attendance",
    "Brief",
    "BriefEvidence",
    "Campaign",
    "ChatDestination",
    "Check",
    "ClockOccurrence",
    "Department",
    "DirectoryGroup",
    "DirectoryGroupMember",
    "Enrollment",
    "Evidence",
    "FeedbackItem",
    "FeedbackTransition",
    "IdempotencyRecord",
    "Message",
    "MessageEvidence",
    "Notification",
    "NotificationPreferences",
    "OutboxEvent",
    "Person",
    "PitchDocument",
    "PitchUsage",
    "Product",
    "SearchDocument",
    "ServiceClient",
    "Theme",
    "Webhook",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
]
