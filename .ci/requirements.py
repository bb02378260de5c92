"""Print the dependencies pyproject.toml pins, plus the named extras, one per line."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
project = tomllib.loads(pyproject.read_text())["project"]
wanted = list(project["dependencies"])
for extra in filter(None, (sys.argv[1] if len(sys.argv) > 1 else "").split(",")):
    wanted += project["optional-dependencies"][extra]
print("\n".join(wanted))
