"""``python -m dashboard.web.write_vocabulary``: write ``dashboard/web/vocabulary.py``, the
product's own vocabulary as literal strings the translators' tools can find.

The action table (``compute.actions``), the state labels (``dashboard.web.presentation``),
the button groups and the labels of the domain's choices (drain and step states, the
maintenance log's operations and outcomes, notification events, the task centre's outcomes:
``CHOICES`` below) are data, not marked strings; this writes each of their English texts once,
marked (``pgettext_lazy`` with the vocabulary's kind as the context where one English word
means different things: ``Active`` as a vm_state and as a status). ``makemessages`` then puts
them in the catalogue and the pages translate them at run time. A test fails while the file
differs from what this would write.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

TARGET = Path(__file__).with_name("vocabulary.py")


def q(text: str) -> str:
    """A double-quoted Python literal, as the formatter writes it."""
    return json.dumps(text, ensure_ascii=False)


def choices() -> list[tuple[str, str]]:
    """(context, English label) of the domain's choices the pages show; a template shows one
    with ``{% translate label context "<context>" %}``."""
    from compute.models import DrainJob, DrainStep, HostAuditEntry
    from compute.models.notifications import Delivery, EventKind, Subscription
    from compute.selectors.drain import LABELS
    from compute.selectors.tasks import OUTCOMES

    found: list[tuple[str, str]] = []
    for context, labels in (
        ("drain job", DrainJob.State.labels),
        ("drain step", DrainStep.State.labels),
        ("drain choice", LABELS.values()),
        ("host audit", HostAuditEntry.Operation.labels),
        ("host audit outcome", HostAuditEntry.Outcome.labels),
        ("notification event", EventKind.labels),
        ("subscription scope", Subscription.Scope.labels),
        ("delivery channel", Delivery.Channel.labels),
        ("delivery state", Delivery.State.labels),
        ("task outcome", OUTCOMES),
    ):
        found += [(context, str(label)) for label in labels]
    return found


def render() -> str:
    from compute.actions import ACTIONS, CREATE, GROUPS, SOFT_DELETE
    from dashboard.web.presentation import _NONE_LABEL, TABLE

    contexts: list[tuple[str, str]] = []
    for kind, rows in TABLE.items():
        for label, _tone in rows.values():
            contexts.append((kind, label))
    contexts += list(_NONE_LABEL.items())
    from compute.sync.decisions import RULES

    plain: list[str] = list(GROUPS)
    plain += [rule.note for rule in RULES]  # the sync's reasons, in the pages' warnings
    for spec in (*ACTIONS, CREATE, SOFT_DELETE):
        plain += [spec.label, spec.summary]
        if spec.variant is not None:
            plain += [spec.variant.title, spec.variant.label]
    lines = [
        '"""The product\'s vocabulary, marked for translation. Written by',
        "``python -m dashboard.web.write_vocabulary`` from the action table, the presentation",
        'map and the domain\'s choices: do not edit by hand."""',
        "",
        "from django.utils.translation import gettext_lazy, pgettext_lazy",
        "",
        "STATE_LABELS = [",
        *(f"    pgettext_lazy({q(k)}, {q(v)})," for k, v in dict.fromkeys(contexts)),
        "]",
        "",
        "ACTION_TEXTS = [",
        *(f"    gettext_lazy({q(t)})," for t in dict.fromkeys(plain)),
        "]",
        "",
        "CHOICE_LABELS = [",
        *(f"    pgettext_lazy({q(k)}, {q(v)})," for k, v in dict.fromkeys(choices())),
        "]",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
    sys.exit(0)
