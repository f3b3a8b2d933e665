"""The data service's own refusals, asked with raw HTTP as anything in a session could.

The service's real tornado app runs on a local port against a real store; the requests come from
127.0.0.1, which the tests register (or not) as bob's session of ``study`` in the address
registry the spawner keeps. One stand-in, at the boundary with the hub: :class:`HubModels`
answers for each token with the model the hub returns for it (the hub itself answers in
``tests/hub/test_sessions.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.data_service import data_service
from tests.world import World
from wgs_tre.access import Gate
from wgs_tre.hub import registry
from wgs_tre.policy import load_policies
from wgs_tre.services.data import session_project
from wgs_tre.store import Store
from wgs_tre.store.models import AuditEvent

REPO = Path(__file__).resolve().parent.parent
SERVICE = "access:services!service=wgs-tre-data"


def server_token(user: str, server: str) -> dict[str, Any]:
    """The hub's model for a server's token (the scopes of ``c.Spawner.server_token_scopes``)."""
    scopes = [SERVICE, f"access:servers!server={user}/{server}", f"users:activity!user={user}"]
    return {"kind": "user", "name": user, "scopes": scopes}


def user_token(user: str, *shared: str) -> dict[str, Any]:
    """The hub's model for a user's own token, holding shares of the servers ``shared``."""
    scopes = [SERVICE, f"access:servers!user={user}", f"read:users!user={user}"]
    return {
        "kind": "user",
        "name": user,
        "scopes": scopes + [f"access:servers!server={s}" for s in shared],
    }


TOKENS = {
    "bob-session": server_token("bob", "study"),
    "alice-session": server_token("alice", "study"),
    "bob-own": user_token("bob"),
    "bob-shared": user_token("bob", "alice/study"),  # alice shared her session with bob
}


class HubModels:
    """Answers for each token of :data:`TOKENS` with its model, as the hub does; for any other
    token (unknown, or deleted with its stopped server) with nothing."""

    access_scopes = None

    def get_user(self, handler: Any, **_: Any) -> dict[str, Any] | None:
        token = handler.request.headers.get("Authorization", "").removeprefix("token ")
        return TOKENS.get(token)

    def _persist_url_token_if_set(self, handler: Any) -> None:
        return


@pytest.mark.parametrize(
    ("model", "project"),
    [
        (server_token("bob", "study"), "study"),
        (user_token("bob"), None),
        (user_token("bob", "alice/study"), None),  # another user's server
        ({"kind": "user", "name": "bob", "scopes": []}, None),
        ({"kind": "user", "name": "bob", "scopes": ["access:servers!server=bob/"]}, None),
        ({"kind": "service", "name": "tester", "scopes": ["access:servers"]}, None),
    ],
)
def test_session_project_is_the_server_of_the_tokens_own_user(
    model: dict[str, Any], project: str | None
) -> None:
    assert session_project(model) == project


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("data-service")
    store = Store(f"sqlite:///{tmp / 'governance.db'}")
    store.upgrade()
    world = World.build(store, load_policies(REPO / "policies"), tmp)
    world.approved("study", members=["bob"])  # alice leads, bob is a member; dataset cohort
    return world


@pytest.fixture(scope="module")
def sessions(world: World) -> Path:
    return world.tmp / "sessions"


@pytest.fixture(scope="module")
def url(world: World, sessions: Path) -> Iterator[str]:
    gate = Gate(world.store, world.policies)
    with data_service(gate, sessions, "unused", "unused", auth=HubModels()) as served:
        yield served


@pytest.fixture
def from_bobs_session(sessions: Path) -> Iterator[None]:
    """Requests from 127.0.0.1 come from bob's session of study."""
    registry.register(sessions, "127.0.0.1", "bob", "study")
    yield
    registry.unregister(sessions, "127.0.0.1")


def ask(url: str, token: str | None, body: dict[str, str], call: str = "open") -> tuple[int, Any]:
    """POST ``body`` to the service's ``api/<call>``: (status, answer)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"token {token}"
    request = urllib.request.Request(
        url + f"api/{call}", data=json.dumps(body).encode(), method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def events_after(world: World, seq: int) -> list[tuple[str, str, str | None, str, str, Any]]:
    with world.store.session() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.seq > seq)).all()
        return [
            (e.actor, e.action, e.project, e.decision, e.reason, json.loads(e.details))
            for e in rows
        ]


def last_seq(world: World) -> int:
    return world.last_event().seq


NOT_A_SESSION = "this token does not belong to a project session"
FROM_BOB = {"address": "127.0.0.1"}


@pytest.mark.parametrize(
    ("token", "body", "reason", "identified_as"),
    [
        (None, {}, "a session's API token is required", None),
        ("stopped-session", {}, "a session's API token is required", None),
        ("bob-own", {}, NOT_A_SESSION, "bob"),
        ("bob-shared", {}, NOT_A_SESSION, "bob"),
        ("alice-session", {}, "this token belongs to another session", "alice"),
        ("bob-session", {"project": "other-study"},
         "this session belongs to study; it cannot open other-study", "bob"),
    ],
)  # fmt: skip
def test_refusals_from_a_session_are_audited_under_that_session(
    world: World,
    url: str,
    from_bobs_session: None,
    token: str | None,
    body: dict[str, str],
    reason: str,
    identified_as: str | None,
) -> None:
    before = last_seq(world)
    status, answer = ask(url, token, {"dataset": "cohort", **body})
    assert (status, answer.get("error"), answer.get("message")) == (
        403,
        "Refused",
        f"refused: {reason}",
    )
    details = {**FROM_BOB, **({"identified_as": identified_as} if identified_as else {})}
    assert events_after(world, before) == [
        ("bob", "data.access", "study", "refused", reason, details)
    ]


@pytest.mark.parametrize(
    ("token", "actor", "reason"),
    [
        ("stopped-session", "unknown@127.0.0.1", "a session's API token is required"),
        ("bob-own", "bob", NOT_A_SESSION),
    ],
)
def test_refusals_off_a_session_address_name_what_the_hub_knew(
    world: World, url: str, token: str, actor: str, reason: str
) -> None:
    before = last_seq(world)
    status, answer = ask(url, token, {"dataset": "cohort"})
    assert (status, answer.get("message")) == (403, f"refused: {reason}")
    [(who, action, project, decision, why, _)] = events_after(world, before)
    assert (who, action, project, decision, why) == (actor, "data.access", None, "refused", reason)


def test_the_session_itself_is_served(world: World, url: str, sessions: Path) -> None:
    """The allowed path through the same checks: a session's own token from its own address,
    naming its own project or none; and from an address the service does not know (where
    sessions are not registered, as on Kubernetes)."""
    approved = [{"dataset": "cohort@1", "kind": "variants"}]
    registry.register(sessions, "127.0.0.1", "bob", "study")
    try:
        for body in ({}, {"project": "study"}):
            assert ask(url, "bob-session", body, "datasets") == (200, approved)
    finally:
        registry.unregister(sessions, "127.0.0.1")
    assert ask(url, "alice-session", {}, "datasets") == (200, approved)


def test_the_service_starts_without_the_model_libraries() -> None:
    """lifelines and scikit-survival load at the first model request, not at every start."""
    probe = (
        "import sys, wgs_tre.services.data\n"
        "print(sorted(m for m in ('lifelines', 'sksurv', 'wgs_tre.models') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
