"""The steward dashboard, served by the real hub, attacked over plain HTTP and its kernel
websocket: only stewards may open it; its kernel acts as the person the hub signed in, whatever
the request claims; and the page cannot run code in that kernel (a hub-side process holding
the store's credentials)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError
from tornado.ioloop import IOLoop

from tests.hub.dashboard_client import (
    dashboard_url,
    identity_of,
    kernel_id,
    open_kernel_socket,
    replies_to,
    shell_message,
    signed_in,
)
from tests.hub.harness import Hub

STEWARD = "wgs-tre-steward"
PANEL = "wgs-tre-panel"  # the expert-panel dashboard: the same service, another notebook

DASHBOARD_WAITING_KERNELS = 2  # as the hub serves them in production


@pytest.mark.parametrize("user", ["alice", "eve"])  # a researcher, an expert-panel member
def test_only_stewards_may_open_the_steward_dashboard(hub: Hub, user: str) -> None:
    answer = signed_in(hub, user).get(dashboard_url(hub, STEWARD), timeout=120)
    assert answer.status_code == 403, (answer.status_code, answer.url)
    assert "This dashboard is not open to your role." in answer.text, hub.logs()
    assert "tre-dashboard-identity" not in answer.text


@pytest.mark.parametrize(("service", "user"), [(STEWARD, "sam"), (PANEL, "eve")])
def test_the_dashboard_acts_as_the_signed_in_account(hub: Hub, service: str, user: str) -> None:
    answer = signed_in(hub, user).get(dashboard_url(hub, service), timeout=120)
    assert answer.status_code == 200, answer.text[-2000:]
    assert identity_of(answer.text) == (user, "hub sign-in")


def test_a_claimed_identity_does_not_change_whom_the_kernel_acts_as(hub: Hub) -> None:
    """Every place a browser can put a name: the query, headers proxies and hubs use for the
    user, a cookie named like the hub's. The kernel still acts as the steward signed in."""
    session = signed_in(hub, "sam")
    session.cookies.set("jupyterhub-user", "sue")
    answer = session.get(
        dashboard_url(hub, STEWARD) + "?user=sue&account=sue&SIGNED_IN=sue",
        headers={"X-Forwarded-User": "sue", "X-Remote-User": "sue", "Remote-User": "sue",
                 "X-JupyterHub-User": "sue", "Authorization": "token sue"},
        timeout=120,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text[-2000:]
    assert identity_of(answer.text) == ("sam", "hub sign-in")


def test_the_page_cannot_run_code_in_its_kernel(hub: Hub, tmp_path: Path) -> None:
    session = signed_in(hub, "sam")
    page = session.get(dashboard_url(hub, STEWARD), timeout=120)
    assert page.status_code == 200, page.text[-2000:]
    marker = Path("/tmp") / f"dashboard-ran-{tmp_path.name}"
    code = f"open({str(marker)!r}, 'w').write('ran')"
    attack = shell_message("execute_request", {"code": code, "silent": False,
                           "store_history": False, "user_expressions": {}, "allow_stdin": False,
                           "stop_on_error": True})  # fmt: skip
    inspect = shell_message("inspect_request", {"code": "SIGNED_IN", "cursor_pos": 9,
                            "detail_level": 0})  # fmt: skip
    probe = shell_message("kernel_info_request", {})
    answers = IOLoop().run_sync(
        lambda: replies_to(session, hub, STEWARD, kernel_id(page.text), [attack, inspect, probe]),
        timeout=120,
    )
    assert "kernel_info_reply" in answers[probe["header"]["msg_id"]]  # the socket works
    assert answers[attack["header"]["msg_id"]] == [], answers  # no execute_input, no reply
    assert answers[inspect["header"]["msg_id"]] == [], answers
    assert not marker.exists()


@pytest.mark.parametrize("user", ["sam", "alice", "eve"])
def test_each_dashboard_is_shown_only_to_its_role(hub: Hub, user: str) -> None:
    """The landing page's button and the hub's Services menu link a dashboard for those who
    may open it, and nobody else."""
    page = signed_in(hub, user).get(f"{hub.url}/hub/tre", timeout=60).text
    for service, button, role_holder in [(STEWARD, "tre-steward-dashboard", "sam"),
                                         (PANEL, "tre-panel-dashboard", "eve")]:  # fmt: skip
        shown = user == role_holder
        link = f'href="/services/{service}/"'
        assert page.count(link) == (2 if shown else 0), page[-3000:]  # the menu and the button
        assert (f'id="{button}"' in page) == shown


def test_another_steward_cannot_drive_a_pages_kernel(hub: Hub) -> None:
    """sue, signed in and allowed the dashboard, learns the id of sam's page's kernel: its
    websocket refuses her (its widgets act as sam)."""
    sam = signed_in(hub, "sam")
    page = sam.get(dashboard_url(hub, STEWARD), timeout=120)
    kernel = kernel_id(page.text)
    sue = signed_in(hub, "sue")
    assert sue.get(dashboard_url(hub, STEWARD), timeout=120).status_code == 200
    with pytest.raises(HTTPClientError) as refused:
        IOLoop().run_sync(lambda: open_kernel_socket(sue, hub, STEWARD, kernel), timeout=120)
    assert refused.value.code == 403
    IOLoop().run_sync(lambda: open_kernel_socket(sam, hub, STEWARD, kernel), timeout=120).close()


def test_another_steward_cannot_end_a_pages_kernel(hub: Hub) -> None:
    """The page's "I am leaving" call (Voila's shutdown endpoint) ends only its owner's kernel:
    sue, knowing the id of sam's page's kernel, is refused and sam's page keeps working; sam's
    own call ends it."""
    sam = signed_in(hub, "sam")
    kernel = kernel_id(sam.get(dashboard_url(hub, STEWARD), timeout=120).text)
    sue = signed_in(hub, "sue")
    assert sue.get(dashboard_url(hub, STEWARD), timeout=120).status_code == 200

    def shut_down(session):  # type: ignore[no-untyped-def]
        xsrf = [c.value for c in session.cookies
                if c.name == "_xsrf" and c.path.startswith(f"/services/{STEWARD}")]  # fmt: skip
        return session.post(
            dashboard_url(hub, STEWARD) + f"voila/api/shutdown/{kernel}",
            headers={"X-XSRFToken": xsrf[0] if xsrf else ""}, timeout=60,
        )  # fmt: skip

    assert shut_down(sue).status_code == 403
    probe = shell_message("kernel_info_request", {})
    answers = IOLoop().run_sync(lambda: replies_to(sam, hub, STEWARD, kernel, [probe]), timeout=120)
    assert "kernel_info_reply" in answers[probe["header"]["msg_id"]]
    assert shut_down(sam).status_code == 204
    with pytest.raises(HTTPClientError):  # gone: its websocket is no more
        IOLoop().run_sync(lambda: open_kernel_socket(sam, hub, STEWARD, kernel), timeout=120)
