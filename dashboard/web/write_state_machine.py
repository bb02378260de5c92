"""``python -m dashboard.web.write_state_machine [PATH]``: write the state-machine picture.

Writes ``docs/state-machine.svg`` (the README's picture) by default. A test fails while the
file differs from what ``dashboard.web.diagram.state_machine_svg`` draws from the action table.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()
    from dashboard.web.diagram import state_machine_svg

    target = Path(argv[1] if len(argv) > 1 else "docs/state-machine.svg")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(state_machine_svg(), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv)
