"""``python tools/screenshots.py [--out docs/screenshots]``: screenshots of the four main pages
(instances, an instance, hosts, the state machine) in English and light mode, and in
Simplified Chinese and dark mode, on Debian's Chromium through Playwright.

It starts the browser tests' live site (daphne, fake hosts, a second client; a scratch SQLite
database in a temporary directory), seeds a few instances in a spread of states, and writes
``<page>-<language>-<theme>.png``. Anyone can run it; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
VARIANTS = (("en", "light"), ("zh-hans", "dark"))


def seed(site: object) -> str:
    call = site.call  # type: ignore[attr-defined]
    made = {n: call("create", user="alice", project="demo", name=n) for n in
            ("web-1", "web-2", "db-1", "batch-1", "cache-1")}  # fmt: skip
    call("action", user="alice", uuid=made["db-1"]["uuid"], action="stop")
    call("action", user="alice", uuid=made["batch-1"]["uuid"], action="pause")
    call("action", user="alice", uuid=made["cache-1"]["uuid"], action="suspend")
    for vm in made.values():
        call("wait_idle", uuid=vm["uuid"])
    return made["web-1"]["uuid"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    out = Path(parser.parse_args(argv).out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    from tests.web.livesite import LiveSite

    with tempfile.TemporaryDirectory() as scratch:
        site = LiveSite(Path(scratch))
        site.start()
        try:
            uuid = seed(site)
            pages = {"instances": "/instances/", "instance": f"/instances/{uuid}/",
                     "hosts": "/hosts/", "states": "/states/"}  # fmt: skip
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                for language, theme in VARIANTS:
                    context = browser.new_context(
                        viewport={"width": 1366, "height": 900},
                        color_scheme=theme,
                        locale=language,
                        extra_http_headers={"Accept-Language": language},
                    )
                    cookie = site.call("session", user="admin")["sessionid"]
                    context.add_cookies([{"name": "sessionid", "value": cookie, "url": site.url}])
                    page = context.new_page()
                    for name, path in pages.items():
                        page.goto(site.url + path)
                        page.wait_for_selector('#live-indicator[data-state="live"]')
                        page.wait_for_timeout(400)
                        target = out / f"{name}-{language}-{theme}.png"
                        page.screenshot(path=str(target))
                        print(
                            f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
                        )
                    context.close()
                browser.close()
        finally:
            site.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
