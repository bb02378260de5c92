"""Nova's refusal texts in the page's language.

The domain refuses in Nova's words (``compute.exceptions``), which the API returns as they are:
the stock clients and Tempest read them. The pages show the same refusal — on a greyed-out
button, in the message banner, in a bulk action's result — and there it is translated: each
row below is one of Nova's texts as a pattern and the same text as a catalogue entry with
placeholders. In English the entry is Nova's text, so an English page reads exactly what the
API says; a text no row knows is shown as it came.

Identifiers inside a refusal (the action's API name, vm_state values, uuids, host names, policy
rule names) are kept as they are, as the badges keep them.
"""

from __future__ import annotations

import re

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from compute import policy

#: (Nova's text as a pattern, the catalogue's text with the pattern's groups as placeholders).
REFUSALS: tuple[tuple[re.Pattern[str], Promise], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (
            r"Cannot '(?P<action>[^']+)' instance (?P<uuid>\S+) while it is in "
            r"(?P<attr>\w+) (?P<state>\S+)",
            _("Cannot '%(action)s' instance %(uuid)s while it is in %(attr)s %(state)s"),
        ),
        (
            r"Instance (?P<uuid>\S+) is in an invalid state for '(?P<action>[^']+)'",
            _("Instance %(uuid)s is in an invalid state for '%(action)s'"),
        ),
        (r"Instance (?P<uuid>\S+) is locked", _("Instance %(uuid)s is locked")),
        (r"Instance (?P<uuid>\S+) is not ready", _("Instance %(uuid)s is not ready")),
        (r"Service is unavailable at this time\.", _("Service is unavailable at this time.")),
        (
            r"Compute service of (?P<host>\S+) is still in use\.",
            _("Compute service of %(host)s is still in use."),
        ),
        (
            re.escape(policy.REFUSAL).replace(re.escape("%(rule)s"), r"(?P<rule>\S+)"),
            _(policy.REFUSAL),  # marked where it is written: compute.policy
        ),
        (
            r"Guest does not have a console available\.",
            _("Guest does not have a console available."),
        ),
        (
            r"The requested functionality is not supported\.",
            _("The requested functionality is not supported."),
        ),
        (
            r"There are not enough hosts available\.",
            _("There are not enough hosts available."),
        ),
        (
            r"Quota exceeded for (?P<resources>.+?): Requested (?P<requested>.+?), but already "
            r"used (?P<used>.+?) of (?P<allowed>.+?) (?P=resources)",
            _(
                "Quota exceeded for %(resources)s: Requested %(requested)s, but already used "
                "%(used)s of %(allowed)s %(resources)s"
            ),
        ),
        (
            r"The action is no longer waiting for its compute agent; it cannot be cancelled\.",
            _("The action is no longer waiting for its compute agent; it cannot be cancelled."),
        ),
        (
            r"The instance has moved on since the action was queued; it cannot be cancelled\.",
            _("The instance has moved on since the action was queued; it cannot be cancelled."),
        ),
    )
)


def in_language(text: str | None) -> str | None:
    """``text`` (a refusal in Nova's words) in the active language; None stays None."""
    if not text:
        return text
    for pattern, translated in REFUSALS:
        found = pattern.fullmatch(text)
        if found:
            return str(translated) % found.groupdict()
    return text
