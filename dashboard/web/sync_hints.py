"""What the power-state sync will do about an instance whose hypervisor disagrees with it.

The pages warn when the stored ``power_state`` (the hypervisor's last word) contradicts
``vm_state`` — an ACTIVE instance whose guest shut itself down — and say what the sync does
next. The verdicts are the sync's own decision table (``compute.sync.decisions.RULES``), only
put into words here, so the warning cannot drift from what the sync does. Instances with a task
in progress get no warning: the sync skips them.

The table is data, so the server render and the live script (which gets it as JSON) agree.
The words are translated when asked for, in the request's language (the rules' notes are in
the catalogue through ``dashboard/web/vocabulary.py``).
"""

from __future__ import annotations

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from compute.states import POWER_STATE_NAMES
from compute.sync.decisions import RULES, Correction, Rule

_CONSEQUENCE = {
    Correction.STOP: _("the next power-state sync will stop the instance (vm_state → stopped)."),
    Correction.FORCE_STOP: _("the next power-state sync will force-stop it (vm_state → stopped)."),
    Correction.DELETE: _("the next power-state sync will delete the instance."),
    Correction.NONE: _("the power-state sync only logs this and changes nothing."),
}


def _text(rule: Rule, power: int) -> str:
    return gettext("Hypervisor reports %(power)s: %(note)s; %(consequence)s") % {
        "power": POWER_STATE_NAMES.get(power, str(power)),  # Nova's identifier, untranslated
        "note": gettext(rule.note),
        "consequence": _CONSEQUENCE[rule.correction],
    }


def _table() -> dict[str, dict[int, Rule]]:
    table: dict[str, dict[int, Rule]] = {}
    for rule in RULES:
        for vm_state in rule.vm_states:
            for power in rule.powers:
                table.setdefault(str(vm_state), {})[int(power)] = rule
    return table


_RULES = _table()


def sync_hint(vm_state: str, task_state: str | None, power_state: int) -> str | None:
    """The warning to show, or None when the states agree or the sync would skip the row."""
    if task_state is not None:
        return None
    rule = _RULES.get(vm_state, {}).get(int(power_state))
    return None if rule is None else _text(rule, int(power_state))


def sync_hint_table() -> dict[str, dict[str, str]]:
    """The whole table for the live script: vm_state → power_state (as text) → warning, in
    the active language."""
    return {
        vm: {str(ps): _text(rule, ps) for ps, rule in row.items()} for vm, row in _RULES.items()
    }
