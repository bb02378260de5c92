"""One policy registry: every rule the code checks is in ``compute.policy.RULES`` with Nova's
name, and only ``compute.policy`` writes Nova's refusal text."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from compute import policy
from compute.context import RequestContext

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for d in ("compute", "dashboard") for p in (ROOT / d).rglob("*.py")]
#: Nova's rule names, and ``vmdash:`` for the project's own extensions (a drain).
NOVA_RULE = re.compile(r"^(os_compute_api|compute|vmdash):[a-z0-9_:\-]+$")


def _rule_arguments() -> list[tuple[Path, int, ast.expr]]:
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("authorize", "allowed", "refused")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "policy"
            ):
                rule = node.args[1] if node.func.attr != "refused" else node.args[0]
                found.append((path, node.lineno, rule))
    return found


def test_only_the_policy_module_writes_novas_refusal_text():
    writers = [
        str(p.relative_to(ROOT))
        for p in SOURCES
        if "doesn't allow" in p.read_text() and p.name not in ("policy.py", "spec.py")
    ]
    assert writers == []


def test_every_literal_rule_checked_is_registered():
    literals = [
        (f"{path.relative_to(ROOT)}:{line}", rule.value)
        for path, line, rule in _rule_arguments()
        if isinstance(rule, ast.Constant)
    ]
    assert len(literals) > 10
    assert [(where, r) for where, r in literals if r not in policy.RULES] == []


def test_every_formatted_rule_checked_has_its_family_registered():
    """``f"os_compute_api:os-hosts:{rule}"``: some rule of that prefix is registered."""
    for path, line, rule in _rule_arguments():
        if isinstance(rule, ast.JoinedStr):
            head, tail = rule.values[0], rule.values[-1]
            if isinstance(head, ast.Constant):
                assert any(r.startswith(head.value) for r in policy.RULES), f"{path}:{line}"
            else:  # f"{spec.policy}:host"
                assert isinstance(tail, ast.Constant), f"{path}:{line}"
                assert any(r.endswith(tail.value) for r in policy.RULES), f"{path}:{line}"


def test_rules_carry_novas_names_and_a_role():
    for rule, role in policy.RULES.items():
        assert NOVA_RULE.match(rule), rule
        assert role in (
            policy.ADMIN,
            policy.PROJECT_MANAGER_OR_ADMIN,
            policy.PROJECT_MEMBER_OR_ADMIN,
        )


def test_an_unknown_rule_is_a_bug_even_for_an_admin():
    admin = RequestContext(user_id=1, user_name="admin", project_id="a", is_admin=True)
    with pytest.raises(KeyError):
        policy.allowed(admin, "os_compute_api:no-such-rule")
