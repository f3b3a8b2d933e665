"""A real browser (Debian's Chromium, driven by Playwright) at the hub's front door: each role
lands on its own page after signing in, a researcher opens a project session from hers, every
refusal says why, in English and Japanese; a new sign-up waits for a steward's approval.
Screenshots go to test-artifacts/ (the README shows the landing pages)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.governance import users
from wgs_tre.hub import DATA_SERVICE
from wgs_tre.hub.auth import add_signin
from wgs_tre.types import Role

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-quic"]  # fmt: skip
PASSWORD = "correct horse 42"
SLOW = 120_000  # ms: a session's first start on a busy machine


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (scripts/install installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def sign_in(page, hub: Hub, user: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()


def signed_in(browser, hub: Hub, user: str, locale: str = "en-GB"):  # type: ignore[no-untyped-def]
    """A fresh browser context (its own cookies) signed in as ``user``, on the page it landed."""
    add_signin(f"sqlite:///{hub.state / 'jupyterhub.sqlite'}", user, PASSWORD)
    page = browser.new_context(locale=locale).new_page()
    sign_in(page, hub, user)
    return page


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    assert (ARTIFACTS / name).stat().st_size > 10_000


def unnamed_server_refusals(hub: Hub) -> int:
    """How often the hub has tried to start an unnamed server (the spawner refuses each)."""
    return (hub.state / "hub.log").read_text(errors="replace").count("Sessions are per project")


def servers_of(hub: Hub, user: str) -> dict[str, object]:
    """The user's servers the hub keeps a record of, stopped and failed ones included."""
    return hub.api("GET", f"/users/{user}?include_stopped_servers")["servers"]  # type: ignore[no-any-return]


ROLE_PAGES = [
    ("alice", "researcher", "#tre-researcher"),
    ("sam", "steward", "#tre-steward"),
    ("eve", "expert-panel", "#tre-panel"),
]


@pytest.mark.parametrize(("user", "role", "section"), ROLE_PAGES)
def test_each_role_lands_on_its_own_page(browser, hub: Hub, user, role, section) -> None:  # type: ignore[no-untyped-def]
    tried_unnamed = unnamed_server_refusals(hub)
    page = signed_in(browser, hub, user)
    assert page.url == f"{hub.url}/hub/tre", page.url
    text = page.inner_text("body")
    for stock in ("Failed to start", "Start My Server", "contact admin", "error"):
        assert stock not in text, text
    assert page.is_visible(section), text + hub.logs()
    assert unnamed_server_refusals(hub) == tried_unnamed  # the hub did not try one
    assert not servers_of(hub, user).get("", {}).get("started")
    screenshot(page, f"landing-{role}.png")
    page.context.close()


def test_only_a_panel_member_has_the_panel_dashboards_button(browser, hub: Hub) -> None:  # type: ignore[no-untyped-def]
    """With the count of their hospital's reports in review (none in this hub's world; the
    panel dashboard's browser test sees one)."""
    for user, role, _ in ROLE_PAGES:
        page = signed_in(browser, hub, user)
        assert page.locator("#tre-panel-dashboard").count() == (role == "expert-panel"), user
        if role == "expert-panel":
            href = page.get_attribute("#tre-panel-dashboard", "href")
            assert href == "/services/wgs-tre-panel/", href
            assert page.inner_text("#tre-awaiting-review") == (
                "Reports of your hospital awaiting review: 0")  # fmt: skip
        page.context.close()


def test_a_researcher_sees_each_project_with_its_status(browser, hub: Hub) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(browser, hub, "alice")
    rows = {
        row.get_attribute("data-project"): row
        for row in page.query_selector_all("tr[data-project]")
    }
    assert {"brca-study", "pending-study", "expired-study", "revoked-study"} <= set(rows)
    assert "carol-study" not in rows  # carol's own project, alice is not in it
    assert rows["brca-study"].query_selector("a.tre-open") is not None
    assert "approved\nuntil 20" in rows["brca-study"].inner_text()
    for slug, status, reason in [("pending-study", "pending review", "no_approval"),
                                 ("expired-study", "expired", "expired"),
                                 ("revoked-study", "revoked", "revoked")]:  # fmt: skip
        assert rows[slug].query_selector("a.tre-open") is None, slug
        assert status in rows[slug].inner_text(), rows[slug].inner_text()
        assert rows[slug].query_selector(".tre-why-not").get_attribute("data-reason") == reason
    page.context.close()


def test_the_researcher_opens_a_session_from_her_page_and_stops_it(browser, hub: Hub) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(browser, hub, "alice")
    page.click("tr[data-project=brca-study] a.tre-open")
    page.wait_for_url("**/user/alice/brca-study/lab**", timeout=SLOW)
    # the launcher offers the project kernel and nothing else
    page.wait_for_selector("text=WGS TRE - brca-study", timeout=SLOW)
    assert page.locator("text=Python 3 (ipykernel)").count() == 0
    # an example notebook (written for "python3") opens on the project kernel
    page.goto(f"{hub.url}/user/alice/brca-study/lab/tree/examples/01-qc-pca-gwas.ipynb")
    page.wait_for_selector(".jp-Toolbar-kernelName >> text=WGS TRE - brca-study", timeout=SLOW)
    screenshot(page, "researcher-session.png")
    page.goto(f"{hub.url}/hub/tre")
    page.click("tr[data-project=brca-study] button.tre-stop")
    page.wait_for_url(f"{hub.url}/hub/tre", timeout=SLOW)
    assert "brca-study" not in servers_of(hub, "alice")
    assert page.query_selector("tr[data-project=brca-study] button.tre-stop") is None
    page.context.close()


def test_a_refusal_says_why_and_leaves_nothing_in_the_list(browser, hub: Hub) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(browser, hub, "alice")
    page.goto(f"{hub.url}/hub/spawn/alice/carol-study")
    assert page.get_attribute(".tre-refusal", "data-reason") == "not_a_member"
    text = page.inner_text(".tre-refusal")
    assert "You are not a member of carol-study." in text
    assert "あなたは carol-study のメンバーではありません。" in text
    assert "apply for a project of your own" in text  # what to do next
    assert "contact admin" not in page.inner_text("body")
    screenshot(page, "refusal-not-a-member.png")
    # where a browser waiting on a slow spawn lands once it failed: the same explanation
    page.goto(f"{hub.url}/hub/spawn-pending/alice/carol-study")
    assert page.get_attribute(".tre-refusal", "data-reason") == "not_a_member"
    page.click("#tre-back")
    page.wait_for_url(f"{hub.url}/hub/tre")
    assert "carol-study" not in servers_of(hub, "alice")
    assert page.query_selector("tr[data-project=carol-study]") is None
    page.context.close()


@pytest.mark.parametrize("user", ["sam", "eve"])
def test_stewards_and_panel_members_are_told_their_role_cannot_open_project_data(  # type: ignore[no-untyped-def]
    browser, hub: Hub, user
) -> None:
    page = signed_in(browser, hub, user)
    page.goto(f"{hub.url}/hub/spawn/{user}/brca-study")
    assert page.get_attribute(".tre-refusal", "data-reason") == "role_not_allowed"
    assert "Your role cannot open project data." in page.inner_text(".tre-refusal")
    page.context.close()


def test_the_unnamed_server_is_never_started(browser, hub: Hub) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(browser, hub, "bob")
    page.goto(f"{hub.url}/hub/home")  # JupyterHub's own home page leads to the TRE page
    page.wait_for_url(f"{hub.url}/hub/tre")
    response = page.goto(f"{hub.url}/hub/spawn")
    assert response.status == 400
    assert page.get_attribute(".tre-refusal", "data-reason") == "per_project"
    page.context.close()


def test_the_services_menu_shows_no_internal_service(browser, hub: Hub) -> None:  # type: ignore[no-untyped-def]
    assert DATA_SERVICE in hub.api("GET", "/services")  # it runs, and every user may call it
    page = signed_in(browser, hub, "bob")
    assert page.locator("nav >> text=Services").count() == 0
    assert DATA_SERVICE not in page.content()
    page.context.close()


def test_the_page_speaks_the_browsers_language_and_switches(browser, hub: Hub) -> None:  # type: ignore[no-untyped-def]
    page = signed_in(browser, hub, "alice", locale="ja-JP")
    assert page.get_attribute("#tre-landing", "data-lang") == "ja"
    assert "あなたのプロジェクト" in page.inner_text("#tre-researcher")
    screenshot(page, "landing-researcher-ja.png")
    page.click("#tre-lang")
    page.wait_for_load_state()
    assert "Your projects" in page.inner_text("#tre-researcher")
    page.goto(f"{hub.url}/hub/tre")  # the choice is remembered over the browser's preference
    assert page.get_attribute("#tre-landing", "data-lang") == "en"
    page.context.close()


def test_a_new_sign_up_waits_for_a_steward(browser, hub: Hub, hub_world: World) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(f"{hub.url}/hub/signup")
    page.fill("input[name=username]", "newbie")
    page.fill("input[name=signup_password]", "a long enough passphrase")
    page.fill("input[name=signup_password_confirmation]", "a long enough passphrase")
    page.click("input[type=submit], button[type=submit]")
    sign_in(page, hub, "newbie", "a long enough passphrase")
    page.wait_for_selector("text=awaits a steward's approval")
    assert "データスチュワードの承認待ちです" in page.inner_text("body")
    users.approve_user(hub_world.ctx("sam"), "newbie")
    users.grant_role(hub_world.ctx("root1"), "newbie", Role.RESEARCHER)
    sign_in(page, hub, "newbie", "a long enough passphrase")
    assert page.url == f"{hub.url}/hub/tre", page.content()[-2000:]
    assert "not a member of any project" in page.inner_text("#tre-researcher")
    assert hub.api("GET", "/users/newbie")["groups"] == ["researcher"]
    page.close()


def test_a_disabled_account_is_told_so_in_both_languages(
    browser, hub: Hub, hub_world: World
) -> None:  # type: ignore[no-untyped-def]
    users.disable_user(hub_world.ctx("root1"), "carol")
    try:
        add_signin(f"sqlite:///{hub.state / 'jupyterhub.sqlite'}", "carol", PASSWORD)
        page = browser.new_page()
        sign_in(page, hub, "carol")
        assert "/hub/login" in page.url
        text = page.inner_text("body")
        assert "Your account is disabled; ask a data steward." in text
        assert "アカウントは無効化されています" in text
        page.close()
    finally:
        users.approve_user(hub_world.ctx("sam"), "carol")


def test_the_stop_button_needs_the_pages_xsrf_token(browser, hub: Hub) -> None:  # type: ignore[no-untyped-def]
    """Another site cannot make a signed-in browser stop a session: the stop form carries the
    page's XSRF token, and a POST without it is refused."""
    assert hub.start_server("alice", "revocable-study")[0] == 201
    page = signed_in(browser, hub, "alice")
    try:
        forged = page.request.post(f"{hub.url}/hub/tre/stop/revocable-study", form={})
        assert forged.status == 403
        assert servers_of(hub, "alice")["revocable-study"]["ready"]  # type: ignore[index]
    finally:
        hub.stop_server("alice", "revocable-study")
        page.context.close()
