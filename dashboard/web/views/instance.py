"""One instance: its page, its actions, and the fragments the live script refreshes.

An action posted here goes through ``compute.services.instance_action``, the same door as the
API's; its refusal is shown in Nova's words. A destructive action asks first — in a dialog when
scripts run, on a confirmation page when they do not. The rows Nova serves as one action with a
type (soft and hard reboot) are offered as one small form whose choices are the rows; its post
is the chosen row's, so it takes the same path as any button.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from compute import policy
from compute.actions import BY_KEY
from compute.exceptions import ComputeError, NotFound
from compute.models import Instance, InstanceAction
from compute.selectors import instance_actions, instance_get
from compute.services import instance_action
from compute.states import VmState
from dashboard.security import CONSOLE_POLICY
from dashboard.web.actionbar import ActionButton, ActionGroup, action_groups
from dashboard.web.forms import CHOICE_FORMS, ActionChoiceForm, ActionParamsForm, Catalog, Choice
from dashboard.web.pages import Page, begin, error_page
from dashboard.web.policy import shows_host, shows_host_status_column
from dashboard.web.presentation import badge
from dashboard.web.rows import instance_rows

LOG_LENGTH = 25
#: The pieces of the page the live script re-renders after a delta.
FRAGMENTS = {
    "actions": "web/instances/_actions.html",
    "log": "web/instances/_log.html",
    "facts": "web/instances/_facts.html",
}


@dataclass(frozen=True)
class ActionPanel:
    """One group of the actions card, as the template draws it."""

    title: str
    #: ``("button", ActionButton)`` or ``("choice", ActionChoiceForm)``, in the table's order.
    entries: tuple[tuple[str, ActionButton | ActionChoiceForm], ...]


def _choice(button: ActionButton, label: str) -> Choice:
    # A row whose task is running is not offered again, as its button would be disabled.
    pending = button.pending_label if button.pending else None
    refusal = gettext("In progress: %(task)s") % {"task": pending} if pending else button.refusal
    return Choice(spec=button.spec, label=label, refusal=refusal, pending=pending)


def action_panels(groups: tuple[ActionGroup, ...]) -> tuple[ActionPanel, ...]:
    """The groups of buttons, with the rows of each ``CHOICE_FORMS`` entry folded into one small
    form where the first of them stood. The enabled/disabled answers are the buttons', so the
    form and the buttons read the same precondition check."""
    buttons = {b.key: b for g in groups for b in g.buttons}
    owner = {key: name for name, (_, rows) in CHOICE_FORMS.items() for key, _ in rows}
    placed: set[str] = set()
    panels: list[ActionPanel] = []
    for group in groups:
        entries: list[tuple[str, ActionButton | ActionChoiceForm]] = []
        for button in group.buttons:
            name = owner.get(button.key)
            if name is None:
                entries.append(("button", button))
            elif name not in placed:
                placed.add(name)
                choices = [
                    _choice(buttons[key], label)
                    for key, label in CHOICE_FORMS[name][1]
                    if key in buttons
                ]
                entries.append(("choice", ActionChoiceForm(name=name, choices=choices)))
        if entries:
            panels.append(ActionPanel(group.title, tuple(entries)))
    return tuple(panels)


def _load(page: Page, uuid: UUID) -> Instance:
    return instance_get(context=page.scope.context, instance_uuid=str(uuid))


def _not_found(page: Page, error: ComputeError) -> HttpResponse:
    return error_page(page, status=404, title=gettext("Instance not found"), message=error.message)


def _detail_context(page: Page, instance: Instance, *parts: str) -> dict[str, object]:
    """What the page (no ``parts``) or the named fragments need, and nothing more."""
    context = page.scope.context
    row = instance_rows([instance], context)[0]
    wanted = set(parts or FRAGMENTS)
    out: dict[str, object] = {
        "row": row,
        "show_host": shows_host(context),
        "show_host_status": shows_host_status_column(context),
    }
    if "actions" in wanted:
        catalog = Catalog.load(context)
        out["groups"] = action_panels(action_groups(row, context, catalog))
    if "log" in wanted:
        out["log"] = _log(page, instance)
    if not parts:
        fault = instance.faults.first() if instance.vm_state == VmState.ERROR else None
        out["fault"] = fault
        out["fault_details"] = bool(
            fault and fault.details and policy.fault_details_visible(context, fault.code)
        )
    return out


def _log(page: Page, instance: Instance) -> list[InstanceAction]:
    return list(instance_actions(context=page.scope.context, instance=instance)[:LOG_LENGTH])


@login_required
@require_GET
def instance_detail_view(request: HttpRequest, uuid: UUID) -> HttpResponse:
    page = begin(request)
    try:
        instance = _load(page, uuid)
    except NotFound as error:
        return _not_found(page, error)
    response = page.render(
        "web/instances/detail.html", _detail_context(page, instance), nav="instances"
    )
    response.headers["Content-Security-Policy"] = CONSOLE_POLICY  # the console's terminal
    return response


@login_required
@require_GET
def instance_fragment_view(request: HttpRequest, uuid: UUID, part: str) -> HttpResponse:
    """A piece of the page, re-rendered for the live script after a delta."""
    page = begin(request)
    try:
        instance = _load(page, uuid)
    except NotFound as error:
        return _not_found(page, error)
    if part not in FRAGMENTS:
        return error_page(
            page, status=404, title=gettext("Not found"), message=gettext("No such fragment.")
        )
    return page.render(FRAGMENTS[part], _detail_context(page, instance, part))


@login_required
@require_POST
def instance_action_view(request: HttpRequest, uuid: UUID) -> HttpResponse:
    page = begin(request)
    spec = BY_KEY.get(request.POST.get("action", ""))
    try:
        instance = _load(page, uuid)
    except NotFound as error:
        return _not_found(page, error)
    if spec is None:
        messages.error(request, gettext("Unknown action."))
        return redirect("instance", uuid=uuid)
    params: dict[str, object] = {}
    if spec.params:
        form = ActionParamsForm(
            request.POST,
            spec=spec,
            instance=instance,
            catalog=Catalog.load(page.scope.context),
        )
        if not form.is_valid():
            errors = "; ".join(
                f"{form.fields[k].label}: {' '.join(v)}" for k, v in form.errors.items()
            )
            messages.error(request, f"{gettext(spec.label)}: {errors}")
            return redirect("instance", uuid=uuid)
        params = form.params()
    if spec.destructive and request.POST.get("confirmed") != "yes":
        return page.render(
            "web/instances/confirm.html",
            {
                "spec": spec,
                "targets": [(str(instance.uuid), instance.name)],
                "params": request.POST.items(),
                "single": True,
            },
            nav="instances",
        )
    try:
        instance_action(
            context=page.scope.context, instance_uuid=str(uuid), action=spec.key, params=params
        )
    except ComputeError as error:
        page.refused(error)
    else:
        walk = badge("task_state", spec.start_task).label if spec.start_task else None
        label = gettext(spec.label)
        messages.success(
            request,
            gettext("%(action)s accepted: %(task)s…") % {"action": label, "task": walk}
            if walk
            else gettext("%(action)s accepted.") % {"action": label},
        )
    return redirect("instance", uuid=uuid)
