"""The Content-Security-Policy in a real browser: it refuses what it should, and the pages that live
with it still work — the API docs (third-party apps), a confirm on submit, the lockout page."""

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD


def test_an_injected_inline_script_is_refused_and_noticed(page, csp_refused, db):
    page.goto("/login/")
    page.evaluate(
        """() => { const s = document.createElement("script"); s.textContent = "window.injected = 1";
                   document.body.appendChild(s); }"""
    )
    assert page.evaluate("() => window.injected") is None
    assert any("inline script" in line for line in csp_refused)
    csp_refused.clear()  # seen: this test wanted it


def test_the_api_docs_render_under_their_policy(page, login, revops_admin, csp_refused):
    login(revops_admin)
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("RevOps API")
    expect(page.locator(".opblock-tag").first).to_be_visible()
    page.goto("/api/redoc/")
    # ReDoc lays out the whole schema before it shows anything: slow on a busy machine
    expect(page.locator("h1").first).to_contain_text("RevOps API", timeout=60_000)
    # ReDoc's "by Redocly" logo comes from the vendor's CDN: refused, as the page should not tell a
    # third party who reads the docs. That is the only thing refused.
    assert all("cdn.redoc.ly" in line for line in csp_refused), csp_refused
    csp_refused.clear()


def test_deleting_a_webhook_endpoint_asks_first(page, login, user_in):
    from revops.choices import Role, TeamKind
    from scoring.models import WebhookEndpoint
    from tests.revops.factories import TeamFactory
    from tests.scoring.test_webhooks import make_endpoint

    lead = user_in(TeamKind.SALES, Role.LEAD)
    endpoint = make_endpoint(TeamFactory(kind=TeamKind.SALES), "https://hooks.example.com/revops")
    login(lead)
    page.goto(f"/webhooks/{endpoint.pk}/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete").click()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(lambda url: f"/webhooks/{endpoint.pk}/" not in url)
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_locked_out_sign_in_says_how_long_to_wait(page, settings, viewer):
    settings.LOGIN_FAILURES_PER_ACCOUNT = settings.AXES_FAILURE_LIMIT = 2
    for password in ("wrong", "wrong", PASSWORD):
        page.goto("/login/")
        page.fill("input[name=username]", viewer.username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
    expect(page.locator("#login-lockout")).to_have_text("Too many failed sign-ins; try again in 15 minutes.")
