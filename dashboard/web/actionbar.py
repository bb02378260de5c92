"""The action buttons of an instance: every action of the table, enabled or disabled with why.

The answer comes from ``compute.preconditions.evaluate`` — the check the services run — so a
button is enabled exactly when the service would accept it, and a disabled one carries Nova's
refusal text (in the page's language: ``dashboard.web.refusals``). The groups are the action table's families (``ActionSpec.group``), in the table's
order of groups.
"""

from __future__ import annotations

from dataclasses import dataclass

from compute import policy
from compute.actions import ACTIONS, GROUPS, ActionSpec
from compute.context import RequestContext
from compute.preconditions import evaluate
from dashboard.web.forms import ActionParamsForm, Catalog
from dashboard.web.presentation import badge
from dashboard.web.refusals import in_language
from dashboard.web.rows import InstanceRow


@dataclass(frozen=True)
class ActionButton:
    spec: ActionSpec
    #: None if the action may start now, else Nova's refusal.
    refusal: str | None
    #: This action's task is the one in progress.
    pending: bool
    pending_label: str
    form: ActionParamsForm | None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def enabled(self) -> bool:
        return self.refusal is None and not self.pending


@dataclass(frozen=True)
class ActionGroup:
    title: str
    buttons: tuple[ActionButton, ...]


def action_groups(
    row: InstanceRow, context: RequestContext, catalog: Catalog
) -> tuple[ActionGroup, ...]:
    instance = row.instance
    if instance.deleted:
        return ()
    answers = evaluate(instance, context, host_up=row.host_up)
    specs = {s.key: s for s in ACTIONS if s.key in answers}
    pending_label = badge("task_state", instance.task_state).label

    def button(spec: ActionSpec) -> ActionButton:
        return ActionButton(
            spec=spec,
            refusal=in_language(answers[spec.key]),
            pending=row.pending_action == spec.key,
            pending_label=pending_label,
            form=(
                ActionParamsForm(spec=spec, instance=instance, catalog=catalog)
                if spec.params
                else None
            ),
        )

    grouped: list[ActionGroup] = []
    for title, family in GROUPS.items():
        buttons = tuple(button(s) for s in family if s.key in specs)
        if buttons:
            grouped.append(ActionGroup(title, buttons))
    return tuple(grouped)


def bulk_actions(context: RequestContext) -> list[ActionSpec]:
    """Actions offered for selected rows: those without parameters the caller may use."""
    return [s for s in ACTIONS if not s.params and policy.allowed(context, s.policy)]
