"""Forms of the pages: filters, create, host switches, and the small forms of actions that take
parameters or a type.

An action's form is built from the action table's ``params`` for that action, so a parameter
added to the table gets a field here by name. Rows that Nova serves as one action with a type
(soft and hard reboot) share one form whose choices are the rows. The forms only collect values;
the domain validates them (``compute.services.params``) and its refusal is what the user reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from compute.actions import ACTIONS, ActionSpec
from compute.context import RequestContext
from compute.models import Image, Instance, Project
from compute.selectors import host_list
from compute.selectors.catalog import flavor_list, image_list
from compute.status import Status

Choices = list[tuple[str, str]]

SORTABLE = {
    "created_at": "Created",
    "name": "Name",
    "vm_state": "vm_state",
    "task_state": "task_state",
    "power_state": "power_state",
    "updated_at": "Updated",
    "host": "Host",
}
PAGE_SIZES = (20, 50, 100)


class InstanceFilterForm(forms.Form):
    name = forms.CharField(required=False, max_length=255)
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", _("Any status")),
            *[(s.value, s.value) for s in Status if s != Status.UNKNOWN],
        ],
    )
    host = forms.CharField(required=False, max_length=255)
    sort = forms.ChoiceField(required=False, choices=list(SORTABLE.items()))
    dir = forms.ChoiceField(required=False, choices=[("asc", "asc"), ("desc", "desc")])
    limit = forms.TypedChoiceField(
        required=False, coerce=int, choices=[(str(n), str(n)) for n in PAGE_SIZES]
    )
    #: The optional columns shown (``dashboard.web.columns``), comma-separated.
    cols = forms.CharField(required=False, max_length=200)
    #: The page after this row (Next).
    marker = forms.UUIDField(required=False)
    #: The page before this row (Previous).
    before = forms.UUIDField(required=False)

    def clean_cols(self) -> str:
        from dashboard.web.columns import KEYS  # the columns' module reads rows, not forms

        value: str = self.cleaned_data.get("cols") or ""
        unknown = {key for key in value.split(",") if key} - KEYS
        if unknown:
            raise forms.ValidationError(
                _("Unknown columns: %(keys)s") % {"keys": ", ".join(sorted(unknown))}
            )
        return value


@dataclass(frozen=True)
class Catalog:
    """The choices the forms of one page offer, read once per page."""

    flavors: Choices
    images: Choices
    hosts: Choices

    @classmethod
    def load(cls, context: RequestContext) -> Catalog:
        """What ``context`` may choose: the flavors its project may use, the active images it
        may see (the API's reads, so a page never offers what the service would refuse), and
        the hosts for admins."""
        flavors = flavor_list(context=context, is_public=None)
        images = image_list(context=context).filter(status=Image.Status.ACTIVE)
        return cls(
            flavors=[
                (f.flavorid, f"{f.name} · {f.vcpus} vCPU · {f.ram} MiB · {f.disk} GiB")
                for f in flavors
            ],
            images=[(str(i.pk), i.name) for i in images],
            hosts=[(h.host, h.host) for h in host_list()] if context.is_admin else [],
        )


class CreateInstanceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=255)
    project = forms.ChoiceField(label=_("Project"))
    flavor = forms.ChoiceField(label=_("Flavor"))
    image = forms.ChoiceField(label=_("Image"))
    host = forms.ChoiceField(label=_("Host"), required=False)

    def __init__(
        self,
        *args: Any,
        catalog: Catalog,
        projects: tuple[Project, ...],
        admin: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [(p.pk, p.name) for p in projects]
        self.fields["flavor"].choices = catalog.flavors
        self.fields["image"].choices = catalog.images
        if admin:
            self.fields["host"].choices = [("", _("Let the scheduler choose")), *catalog.hosts]
        else:
            del self.fields["host"]


class HostDisableForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        strip=True,
        label=_("Reason"),
        help_text=_("Shown to other admins, as Nova's disabled_reason."),
    )


# --- the small forms of actions with parameters ----------------------------------------------

FieldMaker = Callable[[ActionSpec, Instance, Catalog], forms.Field]


def _flavors(spec: ActionSpec, instance: Instance, catalog: Catalog) -> forms.Field:
    current = instance.flavor.flavorid if instance.flavor_id else None
    return forms.ChoiceField(
        label=_("New flavor"), choices=[c for c in catalog.flavors if c[0] != current]
    )


def _images(label: str, *, optional: str | None = None) -> FieldMaker:
    def make(spec: ActionSpec, instance: Instance, catalog: Catalog) -> forms.Field:
        choices = ([("", optional)] if optional else []) + catalog.images
        initial = str(instance.image_id) if instance.image_id and not optional else None
        return forms.ChoiceField(
            label=label, choices=choices, required=optional is None, initial=initial
        )

    return make


def _hosts(spec: ActionSpec, instance: Instance, catalog: Catalog) -> forms.Field:
    current = instance.host.host if instance.host_id else None
    return forms.ChoiceField(
        label=_("Destination host"),
        required=False,
        choices=[
            ("", _("Let the scheduler choose")),
            *[c for c in catalog.hosts if c[0] != current],
        ],
    )


PARAM_FIELDS: dict[str, FieldMaker] = {
    "flavorRef": _flavors,
    "imageRef": _images(_("Image")),
    "rescue_image_ref": _images(_("Rescue image"), optional=_("The instance's own image")),
    "host": _hosts,
    "name": lambda s, i, c: forms.CharField(
        label=_("Image name"), max_length=255, initial=f"{i.name}-snap"
    ),
    "backup_type": lambda s, i, c: forms.ChoiceField(
        label=_("Backup type"), choices=[("daily", _("daily")), ("weekly", _("weekly"))]
    ),
    "rotation": lambda s, i, c: forms.IntegerField(label=_("Keep"), min_value=0, initial=1),
    "adminPass": lambda s, i, c: forms.CharField(
        label=_("New password"), widget=forms.PasswordInput(render_value=False), strip=False
    ),
    "locked_reason": lambda s, i, c: forms.CharField(
        label=_("Reason"), required=False, max_length=255
    ),
    "state": lambda s, i, c: forms.ChoiceField(
        label=_("Set vm_state to"), choices=[(state, state) for state in s.chosen_results]
    ),
}


class ActionParamsForm(forms.Form):
    """One field per parameter the action table lists for ``spec``."""

    def __init__(
        self, *args: Any, spec: ActionSpec, instance: Instance, catalog: Catalog, **kwargs: Any
    ) -> None:
        kwargs.setdefault("prefix", "p")
        kwargs.setdefault("auto_id", f"id_{spec.key}_%s")
        super().__init__(*args, **kwargs)
        self.spec = spec
        for name in spec.params:
            maker = PARAM_FIELDS.get(name)
            self.fields[name] = (
                maker(spec, instance, catalog)
                if maker
                else forms.CharField(label=name, required=False)
            )

    def params(self) -> dict[str, Any]:
        """The request body's values, leaving out optional ones left empty."""
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


# --- one small form for the rows Nova serves as one action with a type ----------------------


def _choice_forms() -> dict[str, tuple[str, tuple[tuple[str, str], ...]]]:
    """Action-table rows that Nova's API serves as one action with a type (their
    ``variant``): the page offers each such action as one small form — its title, then each
    row's key with the label of its choice."""
    found: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
    for spec in ACTIONS:
        if spec.variant is not None:
            title, rows = found.get(spec.variant.action, (spec.variant.title, ()))
            found[spec.variant.action] = (title, (*rows, (spec.key, spec.variant.label)))
    return found


CHOICE_FORMS = _choice_forms()


@dataclass(frozen=True)
class Choice:
    spec: ActionSpec
    label: str
    #: None if it may be chosen now, else why not: Nova's refusal, or the task in progress.
    refusal: str | None
    #: The label of this row's task when it is the one in progress.
    pending: str | None = None


class RefusableRadioSelect(forms.RadioSelect):
    """Radios whose refused choices are disabled and say why.

    Each radio carries its row's key as ``data-action-key``, as the action buttons do; a refused
    one is ``disabled`` with the refusal as its title and is described by ``why-<key>``, the
    element the template fills with the option's ``reason`` beside the choice (the id the
    disabled buttons use). ``help`` is a line under each choice: the row's summary.
    """

    def __init__(
        self,
        *,
        refusals: dict[str, str | None],
        help: dict[str, str],
        confirm: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.refusals = refusals
        self.help = help
        #: Destructive choices: the question the page asks before posting one (``data-confirm``).
        self.confirm = confirm or {}

    def create_option(
        self,
        name: str,
        value: Any,
        label: Any,
        selected: Any,
        index: int,
        subindex: int | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        reason = self.refusals.get(str(value))
        extra: dict[str, Any] = {"data-action-key": str(value)}
        if reason:
            extra.update({"disabled": True, "title": reason, "aria-describedby": f"why-{value}"})
        if str(value) in self.confirm:
            extra["data-confirm"] = self.confirm[str(value)]
        option["attrs"] = {**option["attrs"], **extra}
        option["reason"] = reason
        option["help"] = self.help.get(str(value), "")
        return option


class ActionChoiceForm(forms.Form):
    """One small form for rows Nova serves as one action with a type: a choice per row and one
    submit.

    The field is ``action`` and its values are the rows' keys, so posting the form is exactly
    what posting one of the rows' buttons was: the same view, the same service, Nova's refusal
    if the chosen row is refused by then. A choice the table refuses now is disabled with the
    refusal; with every choice refused the submit is disabled too, with their reasons.
    """

    def __init__(self, *args: Any, name: str, choices: Sequence[Choice], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{name}_%s")
        super().__init__(*args, **kwargs)
        self.name = name
        self.title = CHOICE_FORMS[name][0] if name in CHOICE_FORMS else name
        self.choices = tuple(choices)
        open_ = [c.spec.key for c in self.choices if c.refusal is None]
        self.fields["action"] = forms.ChoiceField(
            label=_("Type"),
            choices=[(c.spec.key, gettext(c.label)) for c in self.choices],
            widget=RefusableRadioSelect(
                refusals={c.spec.key: c.refusal for c in self.choices},
                help={c.spec.key: gettext(c.spec.summary) for c in self.choices},
                confirm={
                    c.spec.key: f"{gettext(c.spec.label)}? {gettext(c.spec.summary)}"
                    for c in self.choices
                    if c.spec.destructive
                },
            ),
            initial=open_[0] if open_ else None,
        )

    @property
    def enabled(self) -> bool:
        return any(c.refusal is None for c in self.choices)

    @property
    def refusal(self) -> str | None:
        """Why nothing can be submitted now: each choice's reason, once; None if one is open."""
        if self.enabled:
            return None
        return "; ".join(dict.fromkeys(c.refusal for c in self.choices if c.refusal))

    @property
    def pending(self) -> str | None:
        """The label of the task in progress, if it is one of the choices'."""
        return next((c.pending for c in self.choices if c.pending), None)
