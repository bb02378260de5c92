"""The compute tables. Each module holds one concern; the state columns are written only by
``compute.state_machine`` (a test enforces it)."""

from compute.models.actions import ActionDispatch, InstanceAction, InstanceActionEvent
from compute.models.catalog import Flavor, Image
from compute.models.consoles import ConsoleToken
from compute.models.diagnostics import InstanceSample
from compute.models.drains import DrainJob, DrainStep
from compute.models.fake import FakeFailure, FakeGuest, FakeLifecycleEvent
from compute.models.host_audit import HostAuditEntry
from compute.models.hosts import Host, PowerSyncPass
from compute.models.instances import Instance, InstanceFault
from compute.models.migrations import Migration
from compute.models.notifications import (
    Delivery,
    DeliveryAttempt,
    EventKind,
    Notification,
    NotifierCursor,
    Subscription,
)
from compute.models.outbox import ChangeEvent
from compute.models.resources import (
    Aggregate,
    FlavorAccess,
    KeyPair,
    QuotaClassLimit,
    QuotaLimit,
    SecurityGroup,
    SecurityGroupRule,
    ServerExtras,
    ServerGroup,
)
from compute.models.schedules import ScheduledAction, ScheduleRun
from compute.models.tenancy import Membership, Project, Role

__all__ = [
    "ActionDispatch",
    "Aggregate",
    "ChangeEvent",
    "ConsoleToken",
    "Delivery",
    "DeliveryAttempt",
    "DrainJob",
    "DrainStep",
    "EventKind",
    "FakeFailure",
    "FakeGuest",
    "FakeLifecycleEvent",
    "Flavor",
    "FlavorAccess",
    "Host",
    "HostAuditEntry",
    "Image",
    "Instance",
    "InstanceAction",
    "InstanceActionEvent",
    "InstanceFault",
    "InstanceSample",
    "KeyPair",
    "Membership",
    "Migration",
    "Notification",
    "NotifierCursor",
    "PowerSyncPass",
    "Project",
    "QuotaClassLimit",
    "QuotaLimit",
    "Role",
    "ScheduleRun",
    "ScheduledAction",
    "SecurityGroup",
    "SecurityGroupRule",
    "ServerExtras",
    "ServerGroup",
    "Subscription",
]
