"""Invariant 1: only compute/state_machine.py writes vm_state, task_state and power_state.

The scanner reads every module of the project and flags: attribute assignments to a state
column, state columns passed to ORM writes (update, create, bulk_update, the Instance
constructor …), and raw SQL that SETs one. Reads (filter, exclude, Q) and calls into the state
machine are fine.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATE_COLUMNS = {"vm_state", "task_state", "power_state"}
WRITE_CALLS = {
    "update", "create", "get_or_create", "update_or_create", "bulk_update", "bulk_create",
    "Instance", "save",
}  # fmt: skip
ALLOWED_FILES = {Path("compute/state_machine.py")}
RAW_SET = re.compile(r"\bSET\b[^;]*\b(vm_state|task_state|power_state)\s*=", re.I | re.S)


def writes_in(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in STATE_COLUMNS:
                    found.append(f"line {node.lineno}: assigns .{target.attr}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in WRITE_CALLS:
                for kw in node.keywords:
                    if kw.arg in STATE_COLUMNS:
                        found.append(f"line {node.lineno}: {name}({kw.arg}=…)")
                    if kw.arg in ("fields", "update_fields") and isinstance(
                        kw.value, ast.List | ast.Tuple
                    ):
                        named = {e.value for e in kw.value.elts if isinstance(e, ast.Constant)}
                        if named & STATE_COLUMNS:
                            found.append(f"line {node.lineno}: {name}({kw.arg}={sorted(named)})")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and RAW_SET.search(node.value)
        ):
            found.append(f"line {node.lineno}: raw SQL sets a state column")
    return found


def project_modules() -> list[Path]:
    modules = []
    for top in ("compute", "dashboard", "bench"):
        for path in (ROOT / top).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if "migrations" in rel.parts or rel in ALLOWED_FILES:
                continue
            modules.append(rel)
    return sorted(modules)


@pytest.mark.parametrize(
    "snippet",
    [
        "instance.vm_state = 'active'",
        "Instance.objects.filter(pk=1).update(task_state=None)",
        "Instance(vm_state='active')",
        "instance.save(update_fields=['power_state'])",
        "cursor.execute('UPDATE compute_instance SET power_state = 1')",
    ],
)
def test_the_scanner_catches_every_kind_of_state_write(snippet):
    assert writes_in(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "Instance.objects.filter(vm_state='active', task_state__isnull=True)",
        "state_machine.transition(i, expected_task_state=None, vm_state='active')",
        "guest.state = 4",
    ],
)
def test_the_scanner_lets_reads_and_state_machine_calls_pass(snippet):
    assert not writes_in(snippet)


def test_no_module_but_the_state_machine_writes_a_state_column():
    offenders = {
        str(path): hits
        for path in project_modules()
        if (hits := writes_in((ROOT / path).read_text()))
    }
    assert not offenders
