"""The Content-Security-Policy in a real browser: headless Chromium against the live site
(``tests/web/livesite.py``) reports every violation through ``securitypolicyviolation``; the
pages and the API docs must cause none, and the live socket must still connect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import browser, live_site  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

LISTEN = (
    "window.__violations = [];"
    "document.addEventListener('securitypolicyviolation', e =>"
    " window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));"
)


@pytest.fixture
def visit(live_site: Any, browser: Any) -> Iterator[Any]:  # noqa: F811
    contexts = []

    def open_page(user: str | None, path: str, *, live: bool = True) -> Any:
        context = browser.new_context()
        contexts.append(context)
        if user:
            cookie = live_site.call("session", user=user)["sessionid"]
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_site.url}])
        page = context.new_page()
        page.add_init_script(LISTEN)
        page.goto(f"{live_site.url}{path}")
        if live:
            page.wait_for_selector('#live-indicator[data-state="live"]', timeout=10_000)
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)  # the scripts' first fetches and fragment swaps
        return page

    yield open_page
    for context in contexts:
        context.close()


def test_the_pages_and_the_docs_run_within_the_policy(live_site, visit):  # noqa: F811
    created = live_site.call("create", user="alice", project="demo", name="csp-probe")
    pages = [
        ("alice", "/instances/", True),
        ("alice", f"/instances/{created['uuid']}/", True),
        ("alice", "/instances/new/", True),
        ("alice", "/states/", True),
        ("admin", "/hosts/", True),
        ("admin", "/hosts/node1/", True),
        (None, "/login/", False),
        (None, "/api/docs/", False),
    ]
    for user, path, live in pages:
        page = visit(user, path, live=live)
        assert page.evaluate("window.__violations") == [], path
    docs = visit(None, "/api/docs/", live=False)
    docs.wait_for_selector(".swagger-ui .opblock", timeout=10_000)  # Swagger UI really ran
    assert docs.evaluate("window.__violations") == []
