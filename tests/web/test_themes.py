"""Dark mode: the theme follows the system until the user picks one, the choice is kept per
user, and every badge tone keeps WCAG AA contrast (4.5:1) in both themes — read from the
computed colours in Chromium, not from the stylesheet's text."""

from __future__ import annotations

import json

import pytest

from dashboard.models import Preference

TONES = ["ok", "busy", "warn", "danger", "muted", "accent"]

#: Computes the contrast ratio of each badge tone, and of the body's text, in the page.
CONTRAST = """() => {
  const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const lum = (rgb) => { const [r, g, b] = rgb.match(/[\\d.]+/g).map(Number);
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b); };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const out = {};
  for (const tone of TONES) {
    const el = document.createElement("span");
    el.className = "badge tone-" + tone; el.textContent = "active";
    document.querySelector("main").append(el);
    const style = getComputedStyle(el);
    out[tone] = ratio(style.color, style.backgroundColor);
    el.remove();
  }
  const body = getComputedStyle(document.body);
  const card = document.querySelector(".card") || document.body;
  out.text = ratio(body.color, getComputedStyle(card).backgroundColor === "rgba(0, 0, 0, 0)" ? body.backgroundColor : getComputedStyle(card).backgroundColor);
  out.muted = ratio(getComputedStyle(document.querySelector(".muted") || document.body).color, body.backgroundColor);
  out.background = body.backgroundColor;
  return out;
}""".replace("TONES", json.dumps(TONES))


@pytest.mark.django_db
def test_the_theme_is_kept_per_user_and_a_bad_one_changes_nothing(alice, alice_client):
    page = alice_client.get("/instances/").content.decode()
    assert '<html lang="en" data-theme="auto">' in page
    answer = alice_client.post("/preferences/theme/", {"theme": "dark", "next": "/states/"})
    assert answer.status_code == 302 and answer["Location"] == "/states/"
    assert '<html lang="en" data-theme="dark">' in alice_client.get("/instances/").content.decode()
    refused = alice_client.post(
        "/preferences/theme/", {"theme": "purple"}, HTTP_ACCEPT="application/json"
    )
    assert refused.status_code == 400
    assert "Unknown theme 'purple'" in refused.json()["error"]
    assert Preference.objects.get(user=alice).theme == "dark"
    away = alice_client.post("/preferences/theme/", {"theme": "light", "next": "https://evil/"})
    assert away["Location"] == "/instances/"


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_badges_and_text_keep_aa_contrast_in_both_themes(live_site, browser, scheme):
    context = browser.new_context(color_scheme=scheme)
    try:
        page = context.new_page()
        page.context.add_cookies(
            [{"name": "sessionid", "value": live_site.call("session", user="alice")["sessionid"],
              "url": live_site.url}]
        )  # fmt: skip
        for path in ("/instances/", "/states/"):
            page.goto(live_site.url + path)
            assert page.evaluate("document.documentElement.dataset.theme") == "auto"
            found = page.evaluate(CONTRAST)
            dark_background = found.pop("background") == "rgb(11, 18, 32)"
            assert dark_background is (scheme == "dark"), path
            low = {k: round(v, 2) for k, v in found.items() if v < 4.5}
            assert low == {}, (scheme, path, low)
    finally:
        context.close()


@pytest.mark.browser
def test_choosing_dark_switches_at_once_and_is_remembered(live_site, browser):
    context = browser.new_context(color_scheme="light")
    try:
        page = context.new_page()
        session = live_site.call("session", user="bob")["sessionid"]
        page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_site.url}])
        page.goto(live_site.url + "/instances/")
        page.select_option("#theme-select", "dark")
        page.wait_for_function("document.documentElement.dataset.theme === 'dark'")
        page.wait_for_function(
            "getComputedStyle(document.body).backgroundColor === 'rgb(11, 18, 32)'"
        )
        page.wait_for_timeout(300)  # the save is in the background
        page.goto(live_site.url + "/states/")
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        page.select_option("#theme-select", "auto")
        page.wait_for_function("document.documentElement.dataset.theme === 'auto'")
    finally:
        context.close()
