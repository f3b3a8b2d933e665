"""One error table at the data-service boundary: whatever the service raises, a session's
``open_project()`` raises the same exception (class, exit code, reason code, fields); a proxy's
error page or a crash becomes a clear "data service unavailable".

The data service runs for real (its tornado app on a local port), and the session's client is
the real one (``wgs_tre.project``'s service source). Two fakes, at the service's own
boundaries: the hub's token check accepts one test token for alice's session of ``study``
(the hub is exercised in ``tests/hub``), and the gate raises the error under test.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemons import free_port
from tests.data_service import TOKEN, data_service
from wgs_tre import errors
from wgs_tre.errors import (
    AccessRefused,
    AlreadyExists,
    AlreadyImported,
    ConfigurationError,
    ConflictOfInterest,
    IntegrityError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    PolicyError,
    QuorumNotMet,
    Reason,
    Refused,
    ServiceUnavailable,
    StoreNotReady,
    WgsTreError,
)
from wgs_tre.project import _ServiceSource
from wgs_tre.store import Store

# One instance of every exception the service can raise (every WgsTreError): a new class must
# be added here, or the first test fails.
EXAMPLES: list[WgsTreError] = [
    WgsTreError("something went wrong"),
    ConfigurationError("the store is not configured"),
    StoreNotReady("run wgs-tre init"),
    ServiceUnavailable("a dependency is down"),
    PolicyError("policies/roles.yaml", "line 3: not a role"),
    InvalidInput("dataset 'wgs@x'", "version is not a number"),
    AlreadyImported("consent.ndjson", "imported before"),
    NotFound("dataset", "wgs@9"),
    AlreadyExists("project", "lung-cancer"),
    Refused("no"),
    PermissionDenied("alice may not data.access"),
    *(AccessRefused(reason, "alice in study") for reason in Reason),
    ConflictOfInterest("sam belongs to the applicant's organisation"),
    QuorumNotMet("2 votes needed, 1 cast"),
    InvalidTransition("approval", "revoked", "suspend", []),
    IntegrityError("wgs@1 differs from what was registered"),
]


class _Gate:
    """Raises the error under test wherever the service asks the gate; its store takes the
    service's own refusals."""

    error: WgsTreError = WgsTreError("unset")

    def __init__(self, store: Store) -> None:
        self.store = store

    def approved_datasets(self, user: str, project: str) -> list[tuple[str, str]]:
        raise self.error

    def decide(self, user: str, project: str, dataset: str) -> Any:
        raise self.error


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, _Gate]]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('store') / 'governance.db'}")
    store.upgrade()
    gate = _Gate(store)
    with data_service(gate, tmp_path_factory.mktemp("sessions"), "alice", "study") as url:
        yield url, gate


def fields(error: WgsTreError) -> dict[str, Any]:
    return errors.to_wire(error)["fields"]  # type: ignore[no-any-return]


def test_every_error_class_has_an_example() -> None:
    assert {type(e) for e in EXAMPLES} == set(errors._CLASSES.values())


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda e: f"{type(e).__name__}-{e.message[:20]}")
@pytest.mark.parametrize("call", ["datasets", "open"])
def test_the_session_gets_the_error_the_service_raised(
    service: tuple[str, _Gate], error: WgsTreError, call: str
) -> None:
    url, gate = service
    gate.error = error
    client = _ServiceSource(url, TOKEN)
    with pytest.raises(WgsTreError) as raised:
        client.datasets() if call == "datasets" else client.open("wgs", None, None)
    assert type(raised.value) is type(error)
    assert raised.value.exit_code == error.exit_code
    assert raised.value.message == error.message
    assert fields(raised.value) == fields(error)
    if isinstance(error, AccessRefused):
        assert raised.value.code is error.code  # type: ignore[attr-defined]


def test_the_service_refuses_what_is_not_a_session(service: tuple[str, _Gate]) -> None:
    url, _ = service
    with pytest.raises(Refused, match="a session's API token is required"):
        _ServiceSource(url, "not-a-token").datasets()


def test_a_bad_request_is_invalid_input(service: tuple[str, _Gate]) -> None:
    url, _ = service
    with pytest.raises(InvalidInput, match="name the dataset to open"):
        _ServiceSource(url, TOKEN)._call("api/open", {})


def test_a_proxy_error_page_is_a_clear_unavailability(tmp_path: Path) -> None:
    """What a session sees when something else answers for the service: an HTML 502."""

    class BadGateway(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(502, "Bad Gateway")
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body>502 Bad Gateway</body></html>")

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.HTTPServer(("127.0.0.1", 0), BadGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = _ServiceSource(f"http://127.0.0.1:{server.server_address[1]}/s/", TOKEN)
        with pytest.raises(ServiceUnavailable, match=r"data service is unavailable \(HTTP 502"):
            client.datasets()
    finally:
        server.shutdown()
    with pytest.raises(ServiceUnavailable, match="cannot reach the data service"):
        _ServiceSource(f"http://127.0.0.1:{free_port()}/s/", TOKEN).datasets()
