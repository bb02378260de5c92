"""Internationalisation: every page string marked, the zh-hans catalogue complete (nothing
untranslated or fuzzy), the language picked from the browser or the user's choice, Nova's
identifiers kept in the badges, and the API's texts untouched (they are Nova's)."""

from __future__ import annotations

import gettext
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.models import Preference

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"

#: Templates whose every user-facing string is marked; a new template joins by being marked.
MARKED = [
    "web/base.html",
    "web/login.html",
    "web/error.html",
    "web/states.html",
    "web/_badge.html",
    "web/instances/list.html",
    "web/instances/_row.html",
    "web/instances/_th.html",
    "web/instances/detail.html",
    "web/instances/_actions.html",
    "web/instances/_choice_form.html",
    "web/instances/_facts.html",
    "web/instances/_log.html",
    "web/instances/_console.html",
    "web/instances/confirm.html",
    "web/instances/create.html",
    "web/consoles/vnc.html",
    "web/hosts/list.html",
    "web/hosts/_table.html",
    "web/hosts/_card_cells.html",
    "web/hosts/_counts.html",
    "web/hosts/_summary.html",
    "web/hosts/_sync.html",
    "web/hosts/_drain.html",
    "web/hosts/detail.html",
    "web/tasks/list.html",
    "web/tasks/_table.html",
    "web/tasks/_dock.html",
    "web/schedules/list.html",
    "web/schedules/_table.html",
    "web/notifications/list.html",
    "web/notifications/log.html",
]
#: Words that are names, not prose: the product's, Nova's fields and units.
NAMES = {"vmdash", "SVG", "vm_state", "task_state", "power_state", "host_status", "UTC", "MiB",
         "GiB", "vCPU", "https", "o", "j", "k", "x", "g", "i", "h", "t", "Enter"}  # fmt: skip

_SKIP = [
    r"\{%\s*block page\s*%\}.*?\{%\s*endblock\s*%\}",
    r"\{%\s*comment\s*%\}.*?\{%\s*endcomment\s*%\}",
    r"\{#.*?#\}",
    r"\{%\s*blocktranslate.*?%\}.*?\{%\s*endblocktranslate\s*%\}",
    r"<script.*?</script>",
    r"<style.*?</style>",
    r"\{%.*?%\}",
    r"\{\{.*?\}\}",
]
_ATTRIBUTES = re.compile(r'\b(aria-label|title|placeholder|alt)="([^"]*)"')


def unmarked(text: str) -> list[str]:
    """The prose left outside translation tags: text between tags, and the visible
    attributes' literal values."""
    body = _strip(text)
    found = [value for _, value in _ATTRIBUTES.findall(body) if _prose(value)]
    body = re.sub(r"<[^>]+>", "\n", body)
    found += [line.strip() for line in body.splitlines() if _prose(line)]
    return found


def _strip(text: str) -> str:
    for pattern in _SKIP:
        text = re.sub(pattern, " ", text, flags=re.S)
    return text


def _prose(text: str) -> bool:
    words = re.findall(r"[A-Za-z][A-Za-z_'’-]*", text)
    return any(w not in NAMES for w in words)


@pytest.mark.parametrize("name", MARKED)
def test_no_string_of_a_marked_template_is_left_unmarked(name):
    assert unmarked((TEMPLATES / name).read_text()) == []


def test_every_template_is_held_to_it():
    """A new template cannot slip past the check by not being listed."""
    every = {str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")}
    assert sorted(every - set(MARKED)) == []


def test_the_checker_finds_an_unmarked_string():
    assert unmarked('<p>Hello {{ name }}</p><a title="Open it">x</a>') == ["Open it", "Hello"]
    assert unmarked('<p>{% translate "Hello" %} {{ name }}</p>') == []


def _translations(po: Path) -> dict[object, str]:
    """The singular translations of a .po, keyed as gettext keys them (context\x04msgid)."""
    found: dict[object, str] = {}
    for entry in po.read_text(encoding="utf-8").split("\n\n")[1:]:
        context = re.search(r'^msgctxt "(.*)"$', entry, re.M)
        msgid = re.search(r'^msgid "(.*)"$', entry, re.M)
        msgstr = re.search(r'^msgstr "(.*)"$', entry, re.M)
        if msgid and msgstr and msgstr.group(1):
            key = msgid.group(1)
            if context:
                key = f"{context.group(1)}\x04{key}"
            found[key.encode().decode("unicode_escape").encode("latin-1").decode()] = (
                msgstr.group(1).encode().decode("unicode_escape").encode("latin-1").decode()
            )
    return found


def test_the_catalogues_are_complete_with_nothing_fuzzy_or_stale():
    done = subprocess.run(
        [sys.executable, "tools/i18n/fill.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for domain in ("django", "djangojs"):
        po = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / f"{domain}.po"
        mo = po.with_suffix(".mo")
        with mo.open("rb") as compiled:
            catalog = gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]
        for key, text in _translations(po).items():
            assert catalog.get(key) == text, f"{mo.name} is older than {po.name}: {key!r}"


@pytest.mark.django_db
def test_the_browsers_language_picks_the_pages_language(alice_client, make_instance):
    make_instance("active", name="vm")
    page = alice_client.get("/instances/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content.decode()
    assert '<html lang="zh-hans"' in page
    assert "导出 CSV" in page and "创建实例" in page
    # The badge keeps Nova's identifier; the tooltip explains it.
    assert 'title="vm_state: active — 运行中（稳定状态）"' in page
    assert ">active</span>" in page
    english = alice_client.get("/instances/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="en"' in english and "Export CSV" in english


@pytest.mark.django_db
def test_a_users_choice_wins_over_the_browser_and_is_remembered(alice, alice_client):
    answer = alice_client.post(
        "/preferences/language/", {"language": "zh-hans", "next": "/states/"}
    )
    assert answer.status_code == 302 and answer.cookies["django_language"].value == "zh-hans"
    assert Preference.objects.get(user=alice).language == "zh-hans"
    alice_client.cookies.pop("django_language")  # another browser: the preference still holds
    page = alice_client.get("/states/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "实例状态机" in page
    refused = alice_client.post("/preferences/language/", {"language": "xx"})
    assert refused.status_code == 400
    assert Preference.objects.get(user=alice).language == "zh-hans"
    alice_client.post("/preferences/language/", {"language": ""})
    assert "Instance state machine" in alice_client.get("/states/").content.decode()


def test_the_live_script_gets_its_catalogue(client):
    script = client.get("/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '"Live": "\\u5b9e\\u65f6"' in script  # 实时, JSON-escaped
    assert "interpolate" in script


def test_the_vocabulary_module_is_the_current_one():
    """``dashboard/web/vocabulary.py`` holds the action table's and the state map's texts
    for the translators' tools; rewrite it with ``python -m dashboard.web.write_vocabulary``."""
    from dashboard.web.write_vocabulary import TARGET, render

    assert TARGET.read_text(encoding="utf-8") == render(), (
        "dashboard/web/vocabulary.py is stale: run python -m dashboard.web.write_vocabulary"
    )
