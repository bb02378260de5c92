"""``python tools/i18n/fill.py``: refresh the catalogues and write the translations in.

1. ``manage.py makemessages`` for every language in ``settings.LANGUAGES`` but English, both
   domains (``django`` for templates and Python, ``djangojs`` for static/js);
2. the translations kept as data in ``tools/i18n/<language>.py`` go into each ``.po`` (a
   msgid the data does not know stays empty, and ``--check`` fails on it);
3. ``manage.py compilemessages`` builds the ``.mo`` files, which are committed, so a fresh
   clone needs no gettext tools to run.

``--check`` changes nothing and exits 1 when an entry is untranslated, fuzzy, or the data
holds a translation no msgid uses any more (tests/web/test_i18n.py runs it).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = {"zh_Hans": "zh_hans"}  # locale directory → data module
IGNORE = ["--ignore=.venv", "--ignore=var", "--ignore=tests", "--ignore=bench",
          "--ignore=tools", "--ignore=static/vendor"]  # fmt: skip
_ENTRY = re.compile(r"\n\n(?=(?:#.*\n)*(?:msgctxt|msgid) )")


def _unquote(lines: list[str]) -> str:
    return "".join(eval(line) for line in lines)  # po strings are C-quoted like Python's


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _fields(entry: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    current = None
    for line in entry.splitlines():
        if line.startswith("#"):
            fields.setdefault("#", []).append(line)
            continue
        head = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (\".*\")$", line)
        if head:
            current = head.group(1)
            fields[current] = [head.group(2)]
        elif line.startswith('"') and current:
            fields[current].append(line)
    return fields


def _header(header: str, po: Path) -> str:
    """The catalogue's header with this project's facts instead of gettext's placeholders
    (and without the fuzzy flag makemessages gives a new file)."""
    language = po.parent.parent.name
    replacements = {
        "# SOME DESCRIPTIVE TITLE.": f"# vmdash {po.stem} catalogue, {language}.",
        "# Copyright (C) YEAR THE PACKAGE'S COPYRIGHT HOLDER\n": "",
        "# This file is distributed under the same license as the PACKAGE package.\n": "",
        "# FIRST AUTHOR <EMAIL@ADDRESS>, YEAR.": "# Written from tools/i18n/; the translators' glossary is GLOSSARY.md beside it.",
        "#, fuzzy\n": "",
        "Project-Id-Version: PACKAGE VERSION": "Project-Id-Version: vmdash",
        "PO-Revision-Date: YEAR-MO-DA HO:MI+ZONE": "PO-Revision-Date: 2026-12-05 00:00+0000",
        "Last-Translator: FULL NAME <EMAIL@ADDRESS>": "Last-Translator: vmdash <vmdash@localhost>",
        "Language-Team: LANGUAGE <LL@li.org>": "Language-Team: vmdash",
        '"Language: \\n"': f'"Language: {language}\\n"',
    }
    for old, new in replacements.items():
        header = header.replace(old, new)
    return header


def _load(name: str) -> dict[str, dict]:
    """The data of ``tools/i18n/<name>.py`` merged with its parts ``<name>_*.py`` (a language's
    translations split by area, so no file grows past a reviewable size)."""
    merged: dict[str, dict] = {"django": {}, "djangojs": {}}
    here = ROOT / "tools" / "i18n"
    for path in [here / f"{name}.py", *sorted(here.glob(f"{name}_*.py"))]:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        for domain, data in (("django", module.T), ("djangojs", module.JS)):
            twice = merged[domain].keys() & data.keys()
            if twice:
                raise SystemExit(f"{path.name}: translated in two files: {sorted(twice)}")
            merged[domain].update(data)
    return merged


def process(po: Path, data: dict, *, write: bool) -> list[str]:
    text = po.read_text(encoding="utf-8")
    header, *entries = _ENTRY.split(text)
    problems: list[str] = []
    used: set = set()
    out = [_header(header, po)]
    for entry in entries:
        f = _fields(entry)
        if "msgid" not in f:
            out.append(entry)
            continue
        key = (_unquote(f["msgctxt"]) if "msgctxt" in f else None, _unquote(f["msgid"]))
        used.add(key)
        given = data.get(key)
        # The translator's, extracted and reference comments; never "#|" (msgmerge's previous
        # msgid of a fuzzy match: the entry is translated from the data now, so not fuzzy).
        comments = [c for c in f.get("#", []) if not c.startswith(("#,", "#|"))]
        flags = [c for c in f.get("#", []) if c.startswith("#,")]
        flags = [re.sub(r",?\s*fuzzy", "", c) for c in flags]
        flags = [c for c in flags if c.strip() not in ("#,", "#")]
        if given is None:
            problems.append(f"{po.name}: untranslated {key!r}")
            out.append(entry)
            continue
        if any("fuzzy" in c for c in f.get("#", [])) and not write:
            problems.append(f"{po.name}: fuzzy {key!r}")
        lines = comments + flags
        if key[0] is not None:
            lines.append(f"msgctxt {_quote(key[0])}")
        lines.append(f"msgid {_quote(key[1])}")
        if "msgid_plural" in f:
            lines.append(f"msgid_plural {_quote(_unquote(f['msgid_plural']))}")
            forms = given if isinstance(given, list) else [given]
            lines += [f"msgstr[{i}] {_quote(form)}" for i, form in enumerate(forms)]
            current = [_unquote(f[k]) for k in sorted(f) if k.startswith("msgstr[")]
        else:
            lines.append(f"msgstr {_quote(given if isinstance(given, str) else given[0])}")
            current = [_unquote(f.get("msgstr", ['""']))]
        wanted = given if isinstance(given, list) else [given]
        if current != wanted and not write:
            problems.append(f"{po.name}: stale translation of {key!r}")
        out.append("\n".join(lines))
    problems += [
        f"{po.name}: translation of a msgid no longer used: {k!r}" for k in data if k not in used
    ]
    if write:
        po.write_text("\n\n".join(out).rstrip("\n") + "\n", encoding="utf-8")
    return problems


def main(argv: list[str]) -> int:
    check = "--check" in argv
    manage = [sys.executable, str(ROOT / "manage.py")]
    if not check:
        for locale in LANGUAGES:
            for domain in ("django", "djangojs"):
                subprocess.run([*manage, "makemessages", "-l", locale, "-d", domain,
                                "--no-obsolete", *IGNORE], cwd=ROOT, check=True)  # fmt: skip
    problems: list[str] = []
    for locale, module in LANGUAGES.items():
        data = _load(module)
        for domain in ("django", "djangojs"):
            po = ROOT / "locale" / locale / "LC_MESSAGES" / f"{domain}.po"
            problems += process(po, data[domain], write=not check)
    if not check:
        subprocess.run([*manage, "compilemessages", "--ignore=.venv"], cwd=ROOT, check=True)
        problems = []
        for locale, module in LANGUAGES.items():
            data = _load(module)
            for domain in ("django", "djangojs"):
                po = ROOT / "locale" / locale / "LC_MESSAGES" / f"{domain}.po"
                problems += process(po, data[domain], write=False)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
