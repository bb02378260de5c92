"""``python -m dashboard.web.write_vocabulary``: write ``dashboard/web/vocabulary.py``, the
product's own vocabulary as literal strings the translators' tools can find.

The action table (``compute.actions``), the state labels (``dashboard.web.presentation``) and
the button groups are data, not marked strings; this writes each of their English texts once,
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


def render() -> str:
    from compute.actions import ACTIONS, CREATE, GROUPS, SOFT_DELETE
    from dashboard.web.presentation import _NONE_LABEL, TABLE

    contexts: list[tuple[str, str]] = []
    for kind, rows in TABLE.items():
        for label, _tone in rows.values():
            contexts.append((kind, label))
    contexts += list(_NONE_LABEL.items())
    plain: list[str] = list(GROUPS)
    for spec in (*ACTIONS, CREATE, SOFT_DELETE):
        plain += [spec.label, spec.summary]
        if spec.variant is not None:
            plain += [spec.variant.title, spec.variant.label]
    lines = [
        '"""The product\'s vocabulary, marked for translation. Written by',
        "``python -m dashboard.web.write_vocabulary`` from the action table and the presentation",
        'map: do not edit by hand."""',
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
