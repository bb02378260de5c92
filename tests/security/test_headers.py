"""Response headers (``dashboard.security``) and the production settings: a strict
Content-Security-Policy the pages really live within, the usual hardening headers — on the static
files too, which are served in front of the middleware — no caching of anything signed-in, and
``manage.py check --deploy`` clean with the production environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.asgi import get_asgi_application
from django.test import Client

from dashboard.security import (
    CONSOLE_POLICY,
    DOCS_POLICY,
    POLICY,
    UNVERSIONED_CACHE,
    VERSIONED_CACHE,
    StaticFilesHandler,
)
from dashboard.web.pages import asset_version

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"

HARDENING = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


def test_the_policy_allows_nothing_inline_and_nothing_from_elsewhere():
    policy = directives(POLICY)
    for source in ("default-src", "script-src", "style-src", "img-src", "connect-src"):
        assert policy[source] == ["'self'"], source
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    # The one relaxation: style *attributes* (progress bar widths), which cannot run code.
    assert policy["style-src-attr"] == ["'unsafe-inline'"]
    assert "unsafe-eval" not in POLICY


def test_the_docs_page_relaxes_styles_only():
    policy = directives(DOCS_POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_the_console_pages_relax_style_elements_only():
    # xterm.js draws its terminal with a <style> element it writes; scripts stay 'self'.
    policy, strict = directives(CONSOLE_POLICY), directives(POLICY)
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert {k: v for k, v in policy.items() if k != "style-src"} == {
        k: v for k, v in strict.items() if k != "style-src"
    }


@pytest.mark.parametrize(
    "path", ["/instances/", "/instances/{mine}/", "/states/", "/live/poll?since=0"]
)
def test_signed_in_pages_carry_the_policy_the_hardening_headers_and_no_store(
    world, alice_client, path
):
    response = alice_client.get(world.fill(path))
    assert response.status_code == 200
    expected = CONSOLE_POLICY if path == "/instances/{mine}/" else POLICY
    assert response["Content-Security-Policy"] == expected
    for name, value in HARDENING.items():
        assert response[name] == value, name
    assert "camera=()" in response["Permissions-Policy"]
    assert "no-store" in response["Cache-Control"]


def test_api_answers_carry_the_headers_and_are_not_cached(world, alice_api):
    response = alice_api.get("/v2.1/servers/detail")
    assert response["Content-Security-Policy"] == POLICY
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"


def test_the_login_page_is_framed_by_nobody(db):
    response = Client().get("/login/")
    assert response["Content-Security-Policy"] == POLICY
    assert response["X-Frame-Options"] == "DENY"


def test_the_docs_page_runs_no_inline_script(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == DOCS_POLICY
    html = response.content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts)
    start = re.search(r'<script src="([^"]*script=[^"]*)"', html)
    assert start is not None
    served = Client().get(start.group(1).replace("&amp;", "&"))
    assert served.status_code == 200
    assert served["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in served.content.decode()


INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", flags=re.I)


@pytest.mark.parametrize(
    "path",
    [
        "/instances/",
        "/instances/{mine}/",
        "/instances/new/",
        "/states/",
        "/hosts/",
        "/hosts/node1/",
        "/login/",
    ],
)
def test_the_pages_have_no_inline_script_handler_or_style_element(world, admin_client, path):
    html = admin_client.get(world.fill(path)).content.decode()
    for attrs, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S):
        # A JSON data block is not executed, so the policy does not apply to it.
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
        assert "src=" not in attrs or not body.strip()
    assert not INLINE_HANDLER.search(html)
    assert "<style" not in html
    assert "javascript:" not in html


def test_no_template_or_script_smuggles_code_past_the_policy():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not INLINE_HANDLER.search(text), template
        assert "<style" not in text, template
        assert "javascript:" not in text, template
    for script in STATIC.rglob("*.js"):
        if script.is_relative_to(STATIC / "vendor" / "axe"):
            continue  # axe-core: injected by the browser tests only, never loaded by a page
        text = script.read_text()
        assert "eval(" not in text and "new Function" not in text, script
        assert '.setAttribute("on' not in text, script


# --- static files, served before the middleware -----------------------------------------------

STATIC_FILES = ["css/dash.css", "js/live.js", "js/ui.js", "img/favicon.svg"]


def static_get(path: str, *, scheme: str = "http", host: bytes = b"testserver") -> Any:
    """GET through the static files handler the ASGI application is built with: the status,
    the headers and the whole (streamed) body."""
    url = urlsplit(path)
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": scheme,
        "path": url.path,
        "query_string": url.query.encode(),
        "headers": [(b"host", host)],
    }

    async def exchange() -> dict[str, Any]:
        app = ApplicationCommunicator(StaticFilesHandler(get_asgi_application()), scope)
        await app.send_input({"type": "http.request", "body": b""})
        start = await app.receive_output(10)
        body = b""
        while True:
            message = await app.receive_output(10)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().title(): v.decode() for k, v in start["headers"]}
        return {"status": start["status"], "headers": headers, "body": body}

    return async_to_sync(exchange)()


def test_the_asgi_application_serves_static_files_through_the_handler_with_headers():
    from dashboard.asgi import application

    router = application.app  # StartRelay(ProtocolTypeRouter(…))
    assert isinstance(router.application_mapping["http"], StaticFilesHandler)


@pytest.mark.parametrize("name", STATIC_FILES)
def test_static_files_carry_the_pages_hardening_headers(name):
    response = static_get(f"/static/{name}")
    assert response["status"] == 200
    headers = response["headers"]
    assert headers["Content-Security-Policy"] == POLICY
    for header, value in HARDENING.items():
        assert headers[header] == value, header
    assert "camera=()" in headers["Permissions-Policy"]
    assert "Last-Modified" in headers  # so a revalidation is a cheap 304
    assert response["body"] == (STATIC / name).read_bytes()


def test_a_static_file_asked_for_with_the_current_digest_is_cached_for_a_year():
    response = static_get(f"/static/js/live.js?v={asset_version()}")
    assert (
        response["headers"]["Cache-Control"]
        == VERSIONED_CACHE
        == ("public, max-age=31536000, immutable")
    )


@pytest.mark.parametrize("query", ["", "?v=0123456789", "?x=1"])
def test_a_static_file_without_the_current_digest_is_revalidated_each_time(query):
    response = static_get(f"/static/js/live.js{query}")
    assert response["headers"]["Cache-Control"] == UNVERSIONED_CACHE == "no-cache"


def test_in_debug_static_files_are_always_revalidated(settings):
    settings.DEBUG = True  # files change under a running development server
    response = static_get(f"/static/js/live.js?v={asset_version()}")
    assert response["headers"]["Cache-Control"] == "no-cache"


def test_a_missing_static_file_is_a_404_with_the_headers_too():
    response = static_get("/static/js/nothing-here.js")
    assert response["status"] == 404
    assert response["headers"]["Content-Security-Policy"] == POLICY
    assert response["headers"]["X-Content-Type-Options"] == "nosniff"
    assert response["headers"]["Cache-Control"] == "no-cache"


def test_static_files_follow_the_https_settings(settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    secure = static_get("/static/css/dash.css", scheme="https")
    assert secure["headers"]["Strict-Transport-Security"] == "max-age=31536000"
    settings.SECURE_SSL_REDIRECT = True
    plain = static_get("/static/css/dash.css")
    assert plain["status"] == 301
    assert plain["headers"]["Location"] == "https://testserver/static/css/dash.css"
    assert plain["headers"]["X-Content-Type-Options"] == "nosniff"
    # The redirect reads the Host header: one not allowed is a 400, not a crash.
    assert static_get("/static/css/dash.css", host=b"evil.example")["status"] == 400


def test_the_deployment_guides_nginx_serves_static_files_with_the_same_policy():
    guide = (ROOT / "docs" / "DEPLOYMENT.md").read_text()
    static = guide[guide.index("location /static/") :]
    static = static[: static.index("}")]
    assert f'Content-Security-Policy "{POLICY}"' in static
    assert "X-Content-Type-Options nosniff" in static


# --- the production settings ------------------------------------------------------------------

PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k3y-" + "x7Q9v2LmP4rT8sW1zB6nC0dF5gH3jK" * 3,
    "ALLOWED_HOSTS": "dash.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}
CHECK = (
    "import django; django.setup(); from django.core.management import call_command; "
    "call_command('check', deploy=True, fail_level='WARNING')"
)


def deploy_check(
    extra: dict[str, str], *, drop: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k not in drop}
    env.update(extra, DJANGO_SETTINGS_MODULE="dashboard.settings", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_check_deploy_is_clean_with_the_production_environment():
    result = deploy_check(PRODUCTION)
    assert result.returncode == 0, result.stderr[-3000:]


def test_check_deploy_fails_without_https_settings_so_the_test_above_means_something():
    result = deploy_check({"DEBUG": "0", "SECRET_KEY": PRODUCTION["SECRET_KEY"]})
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


def test_production_refuses_to_start_with_the_development_key():
    result = deploy_check({"DEBUG": "0"}, drop=("SECRET_KEY",))
    assert result.returncode != 0
    assert "Set SECRET_KEY when DEBUG is off." in result.stderr
