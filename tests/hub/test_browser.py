"""A real browser (Debian's Chromium, driven by Playwright) signs in and opens a project session;
a new sign-up waits for a steward's approval. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hub.harness import Hub
from tests.world import World
from wgs_tre.governance import users
from wgs_tre.hub.auth import add_signin
from wgs_tre.types import Role

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-quic"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (scripts/install installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def sign_in(page, hub: Hub, user: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()


def test_the_researcher_signs_in_and_opens_the_project_session(browser, hub: Hub) -> None:  # type: ignore[no-untyped-def]
    add_signin(f"sqlite:///{hub.state / 'jupyterhub.sqlite'}", "alice", "correct horse 42")
    page = browser.new_page()
    sign_in(page, hub, "alice", "correct horse 42")
    assert "/hub/login" not in page.url, page.content()[-2000:]
    page.goto(f"{hub.url}/hub/spawn/alice/brca-study")
    page.wait_for_url("**/user/alice/brca-study/**", timeout=120_000)
    page.wait_for_selector("text=WGS TRE - brca-study", timeout=120_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "researcher-session.png"))
    assert (ARTIFACTS / "researcher-session.png").stat().st_size > 10_000
    page.close()


def test_a_new_sign_up_waits_for_a_steward(browser, hub: Hub, hub_world: World) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(f"{hub.url}/hub/signup")
    page.fill("input[name=username]", "newbie")
    page.fill("input[name=signup_password]", "a long enough passphrase")
    page.fill("input[name=signup_password_confirmation]", "a long enough passphrase")
    page.click("input[type=submit], button[type=submit]")
    sign_in(page, hub, "newbie", "a long enough passphrase")
    page.wait_for_selector("text=awaits a steward's approval")
    users.approve_user(hub_world.ctx("sam"), "newbie")
    users.grant_role(hub_world.ctx("root1"), "newbie", Role.RESEARCHER)
    sign_in(page, hub, "newbie", "a long enough passphrase")
    assert "/hub/login" not in page.url, page.content()[-2000:]
    assert hub.api("GET", "/users/newbie")["groups"] == ["researcher"]
    page.close()
