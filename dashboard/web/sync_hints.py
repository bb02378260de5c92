"""What the power-state sync will do about an instance whose hypervisor disagrees with it.

The pages warn when the stored ``power_state`` (the hypervisor's last word) contradicts
``vm_state`` — an ACTIVE instance whose guest shut itself down — and say what the sync does
next. The verdicts are the sync's own decision table (``compute.sync.decisions.RULES``), only
put into words here, so the warning cannot drift from what the sync does. Instances with a task
in progress get no warning: the sync skips them.

The table is data, so the server render and the live script (which gets it as JSON) agree.
"""

from __future__ import annotations

from compute.states import POWER_STATE_NAMES
from compute.sync.decisions import RULES, Correction, Rule

_CONSEQUENCE: dict[Correction, str] = {
    Correction.STOP: "the next power-state sync will stop the instance (vm_state → stopped).",
    Correction.FORCE_STOP: "the next power-state sync will force-stop it (vm_state → stopped).",
    Correction.DELETE: "the next power-state sync will delete the instance.",
    Correction.NONE: "the power-state sync only logs this and changes nothing.",
}


def _text(rule: Rule, power: int) -> str:
    consequence = _CONSEQUENCE[rule.correction]
    seen = POWER_STATE_NAMES.get(power, str(power))
    return f"Hypervisor reports {seen}: {rule.note}; {consequence}"


def _table() -> dict[str, dict[int, str]]:
    table: dict[str, dict[int, str]] = {}
    for rule in RULES:
        for vm_state in rule.vm_states:
            for power in rule.powers:
                table.setdefault(str(vm_state), {})[int(power)] = _text(rule, int(power))
    return table


_HINTS = _table()


def sync_hint(vm_state: str, task_state: str | None, power_state: int) -> str | None:
    """The warning to show, or None when the states agree or the sync would skip the row."""
    if task_state is not None:
        return None
    return _HINTS.get(vm_state, {}).get(int(power_state))


def sync_hint_table() -> dict[str, dict[str, str]]:
    """The whole table for the live script: vm_state → power_state (as text) → warning."""
    return {vm: {str(ps): text for ps, text in row.items()} for vm, row in _HINTS.items()}
