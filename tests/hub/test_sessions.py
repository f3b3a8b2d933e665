"""Per-project sessions on a real hub: who may start one, what runs inside, and what it cannot
reach (REST API, real proxy, real kernels, real network namespaces)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.hub.harness import Hub, KernelError
from tests.world import World
from wgs_tre.store.models import AuditEvent


def last_session_event(world: World, project: str) -> AuditEvent:
    with world.store.session() as session:
        event = session.scalar(
            select(AuditEvent)
            .where(AuditEvent.project == project, AuditEvent.action.like("session.%"))
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        assert event is not None
        session.expunge(event)
        return event


def test_a_member_of_an_approved_project_gets_a_session(hub: Hub, hub_world: World) -> None:
    status, message = hub.start_server("alice", "brca-study")
    assert status == 201, message
    out = hub.execute("alice", "brca-study", "import os, grp\n"
                      "print(os.environ['WGS_TRE_PROJECT'], os.getuid() != 0,\n"
                      "      [grp.getgrgid(g).gr_name for g in os.getgroups()])")  # fmt: skip
    project, unprivileged, groups = out.split(" ", 2)
    assert project == "brca-study" and unprivileged == "True"
    assert groups.count("trep-") == 1 and "brca-study" in groups
    event = last_session_event(hub_world, "brca-study")
    assert (event.actor, event.action, event.decision) == ("alice", "session.start", "allowed")


@pytest.mark.parametrize(
    ("user", "project", "reason"),
    [
        ("alice", "carol-study", "not a member of the project"),
        ("alice", "pending-study", "the project has no approval"),
        ("alice", "revoked-study", "the approval is revoked"),
        ("alice", "expired-study", "the approval has expired"),
        ("eve", "brca-study", "role not allowed"),
    ],
)
def test_spawns_are_refused_with_their_reason(
    hub: Hub, hub_world: World, user: str, project: str, reason: str
) -> None:
    status, message = hub.start_server(user, project)
    assert status == 403 and reason in message, (status, message)
    event = last_session_event(hub_world, project)
    assert (event.actor, event.decision) == (user, "refused") and reason in event.reason


def test_a_refusal_reaches_the_user_after_the_hub_has_answered(
    hub_world: World, policy_dir: Path, cgroup_filesystem: None
) -> None:
    """A slow spawn is answered 202 before the spawner decides (a loaded machine, a slow
    store): the refusal and its reason must still reach the user, through the progress stream
    their browser follows. A slow_spawn_timeout of 0 makes every spawn that slow."""
    slow = Hub(
        hub_world.store.url.render_as_string(False),
        policy_dir,
        extra_config="c.JupyterHub.tornado_settings = {'slow_spawn_timeout': 0}",
    )
    slow.start()
    try:
        slow.ensure_user("alice")
        status, payload = slow.request("POST", "/hub/api/users/alice/servers/expired-study")
        assert status == 202, (status, payload)  # answered before the spawner decided
        status, message = slow.wait_for_spawn("alice", "expired-study")
        assert status == 403 and "the approval has expired" in message, (status, message)
    finally:
        slow.stop()


def test_the_default_server_is_not_a_session(hub: Hub) -> None:
    status, message = hub.start_server("alice", "")
    assert status == 400 and "per project" in message


def test_kernels_cannot_read_the_store_or_other_projects(hub: Hub, hub_world: World) -> None:
    assert hub.start_server("carol", "carol-study")[0] == 201
    assert hub.start_server("alice", "brca-study")[0] == 201
    workspace = hub.execute(
        "carol", "carol-study", "import os; print(os.environ['WGS_TRE_WORKSPACE'])"
    )
    forbidden = [
        f"os.listdir({workspace.strip()!r})",  # another project's workspace
        f"os.listdir({workspace.strip().replace('workspaces', 'dispensals')!r})",  # its data
        f"open({hub_world.store.url.database!r}, 'rb')",  # the governance store
    ]
    for attempt in forbidden:  # not even there: the sandbox holds only this project's files
        with pytest.raises(KernelError, match="FileNotFoundError"):
            hub.execute("alice", "brca-study", f"import os; {attempt}")
    shared = hub.execute(
        "alice", "brca-study",
        "import os; p = os.environ['WGS_TRE_WORKSPACE'] + '/notes.txt'\n"
        "open(p, 'w').write('hi'); print(oct(os.stat(p).st_mode & 0o777))",
    )  # fmt: skip
    assert shared.strip() == "0o660"  # group-writable for the project's other members
    hub.stop_server("carol", "carol-study")


def test_open_project_in_a_kernel_gets_consented_pseudonymised_data(
    hub: Hub, hub_world: World
) -> None:
    assert hub.start_server("bob", "brca-study")[0] == 201
    out = hub.execute("bob", "brca-study", (
        "from wgs_tre import open_project\n"
        "project = open_project()\n"
        "print(sorted(project.datasets()))\n"
        "v = project.variants('wgs')\n"
        "print(v.sizes['samples'], v.sizes['variants'], int((v.call_genotype >= 0).sum()) > 0)\n"
        "print(any(s.startswith('P0') for s in v.sample_id.values.tolist()))\n"
    ))  # fmt: skip
    datasets, sizes, leaked = out.strip().splitlines()
    assert "P0000" not in hub.logs()  # no participant ids in hub, server or service logs
    assert datasets == "[('cohort@1', 'variants'), ('wgs@1', 'variants')]"
    assert sizes == "30 500 True"  # the 10 withdrawn participants are absent
    assert leaked == "False"
    with hub_world.store.session() as session:
        event = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "data.access", AuditEvent.actor == "bob")
            .order_by(AuditEvent.seq.desc()).limit(1)
        )  # fmt: skip
    assert event is not None and (event.project, event.dataset) == ("brca-study", "wgs@1")


def test_a_session_cannot_open_another_project_or_the_raw_data(hub: Hub, hub_world: World) -> None:
    """The client library's own refusal (the service's are the next test's)."""
    assert hub.start_server("bob", "brca-study")[0] == 201
    with pytest.raises(KernelError, match="Refused"):
        hub.execute(
            "bob", "brca-study", "from wgs_tre import open_project; open_project('carol-study')"
        )
    raw = hub_world.tmp / "datasets"
    with pytest.raises(KernelError, match="FileNotFoundError"):
        hub.execute("bob", "brca-study", f"import os; os.listdir({str(raw)!r})")


# Raw HTTP from a kernel, as any code in a session could send it: (name, token, call, body).
PROBE = """
import json, os, urllib.error, urllib.request
def ask(token, call, body):
    request = urllib.request.Request(
        os.environ['WGS_TRE_DATA_SERVICE'] + 'api/' + call, data=json.dumps(body).encode(),
        headers={'Authorization': 'token ' + token, 'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
own = os.environ['JUPYTERHUB_API_TOKEN']
print(json.dumps({name: ask(token or own, call, body) for name, token, call, body in PROBES}))
"""
NOT_A_SESSION = "this token does not belong to a project session"


def test_the_data_service_refuses_everything_but_the_sessions_own_token(
    hub: Hub, hub_world: World
) -> None:
    """The data service's own refusals, asked from bob's session of brca-study without the
    client library: each a 403 and a refused data.access audited under bob's session."""
    for user, server in (("bob", "brca-study"), ("alice", "brca-study"), ("carol", "carol-study")):
        assert hub.start_server(user, server)[0] == 201
    read_token = "import os; print(os.environ['JUPYTERHUB_API_TOKEN'])"
    alices = hub.execute("alice", "brca-study", read_token).strip()  # a member's live session
    stopped = hub.execute("carol", "carol-study", read_token).strip()
    hub.stop_server("carol", "carol-study")  # the hub deletes its token
    status, share = hub.request("POST", "/hub/api/shares/alice/brca-study", {"user": "bob"})
    assert status == 200, share  # bob's own token now reaches alice's server
    probes = [
        ("own, own project", None, "datasets", {"project": "brca-study"}),
        ("other project", None, "open", {"dataset": "wgs", "project": "carol-study"}),
        ("alice's session", alices, "open", {"dataset": "wgs"}),
        ("bob's shared", hub.user_token("bob"), "open", {"dataset": "wgs"}),
        ("carol's own", hub.user_token("carol"), "open", {"dataset": "wgs"}),
        ("stopped", stopped, "open", {"dataset": "wgs"}),
    ]
    refusals = {
        "other project": "this session belongs to brca-study; it cannot open carol-study",
        "alice's session": "this token belongs to another session",
        "bob's shared": NOT_A_SESSION,
        "carol's own": NOT_A_SESSION,
        "stopped": "a session's API token is required",
    }
    with hub_world.store.session() as session:
        before = session.scalar(select(func.max(AuditEvent.seq)))
    try:
        out = hub.execute("bob", "brca-study", f"PROBES = {probes!r}\n{PROBE}")
    finally:
        hub.request("DELETE", "/hub/api/shares/alice/brca-study")
    answers = json.loads(out)
    assert answers.pop("own, own project") == [200, [
        {"dataset": "cohort@1", "kind": "variants"}, {"dataset": "wgs@1", "kind": "variants"},
    ]]  # fmt: skip
    assert {name: (status, body.get("message")) for name, (status, body) in answers.items()} == {
        name: (403, f"refused: {reason}") for name, reason in refusals.items()
    }
    with hub_world.store.session() as session:
        audited = session.execute(
            select(AuditEvent.actor, AuditEvent.project, AuditEvent.reason, AuditEvent.details)
            .where(AuditEvent.seq > before, AuditEvent.action == "data.access")
            .order_by(AuditEvent.seq)
        ).all()  # fmt: skip
    assert [(actor, project, reason) for actor, project, reason, _ in audited] == [
        ("bob", "brca-study", reason) for reason in refusals.values()
    ]
    assert [json.loads(details).get("identified_as") for *_, details in audited] == [
        "bob",
        "alice",
        "bob",
        "carol",
        None,
    ]


def test_the_session_offers_the_project_kernel_only(hub: Hub) -> None:
    """One kernel, named as notebooks name Python's (so the examples open on it), shown as the
    project's: no plain "Python 3 (ipykernel)" beside it."""
    assert hub.start_server("bob", "brca-study")[0] == 201
    status, specs = hub.request("GET", "/user/bob/brca-study/api/kernelspecs")
    assert status == 200
    offered = {name: spec["spec"]["display_name"] for name, spec in specs["kernelspecs"].items()}
    assert offered == {"python3": "WGS TRE - brca-study"}
    assert specs["default"] == "python3"
    out = hub.execute("bob", "brca-study", "from wgs_tre import open_project\n"
                      "print(open_project().project)")  # fmt: skip
    assert out.strip() == "brca-study"


def test_a_new_workspace_starts_with_the_example_notebooks(hub: Hub) -> None:
    assert hub.start_server("alice", "brca-study")[0] == 201
    out = hub.execute("alice", "brca-study", (
        "import json, os\n"
        "examples = os.environ['WGS_TRE_WORKSPACE'] + '/examples'\n"
        "names = sorted(os.listdir(examples))\n"
        "first = json.load(open(f'{examples}/{names[0]}'))\n"
        "print(names, first['nbformat'], os.access(f'{examples}/{names[0]}', os.W_OK))\n"
    ))  # fmt: skip
    expected = "['01-qc-pca-gwas.ipynb', '02-hail-engine.ipynb', '03-prognosis.ipynb'] 4 True"
    assert out.strip() == expected


def test_the_harness_returns_a_kernels_stdout_apart_from_its_stderr(hub: Hub) -> None:
    """What tests compare is what the kernel printed, not its warnings or progress lines."""
    assert hub.start_server("bob", "brca-study")[0] == 201
    code = "import sys\nprint('answer')\nprint('a warning', file=sys.stderr, flush=True)\n"
    assert hub.execute_streams("bob", "brca-study", code) == ("answer\n", "a warning\n")
    assert hub.execute("bob", "brca-study", code) == "answer\n"


FROM_A_SESSION = """
import http.client, json, os, urllib.parse
hub = urllib.parse.urlsplit(os.environ['JUPYTERHUB_API_URL'])
def ask(method, path):
    connection = http.client.HTTPConnection(hub.hostname, hub.port, timeout=30)
    connection.request(method, '/hub' + path, body=b'' if method == 'POST' else None,
                       headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']})
    response = connection.getresponse()
    return response.status, response.getheader('Location'), b'tre-landing' in response.read()
print(json.dumps([ask('GET', '/tre'), ask('POST', '/tre/stop/brca-study')]))
"""


def test_a_sessions_token_cannot_use_the_front_door(hub: Hub) -> None:
    """The front door is the person's, signed in: from inside a session, its API token (scoped
    to its own server and the data service) neither reads the page nor stops a session with it
    (JupyterHub's page handlers take the sign-in cookie, not tokens; this holds it to that)."""
    assert hub.start_server("bob", "brca-study")[0] == 201
    try:
        page, stop = json.loads(hub.execute("bob", "brca-study", FROM_A_SESSION))
        assert page == [302, "/hub/login?next=%2Fhub%2Ftre", False]  # sent to sign in
        assert stop == [403, None, False]
        assert hub.api("GET", "/users/bob")["servers"]["brca-study"]["ready"]
    finally:
        hub.stop_server("bob", "brca-study")


TO_THE_DASHBOARDS = """
import http.client, json, os, socket, urllib.parse
hub = urllib.parse.urlsplit(os.environ['JUPYTERHUB_API_URL'])
def connects(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return True
    except OSError:
        return False
def through_the_hub(service):
    connection = http.client.HTTPConnection(hub.hostname, hub.port, timeout=30)
    connection.request('GET', '/services/' + service + '/',
                       headers={'Authorization': 'token ' + os.environ['JUPYTERHUB_API_TOKEN']})
    response = connection.getresponse()
    return response.status, b'voila' in response.read().lower()
print(json.dumps({'hub api': connects(hub.hostname, hub.port), 'dashboards': {
    service: [connects(hub.hostname, port), connects('127.0.0.1', port), through_the_hub(service)]
    for service, port in PORTS.items()}}))
"""


def test_a_session_cannot_reach_the_dashboards(hub: Hub) -> None:
    """The dashboards hold store credentials hub-side: from inside a session there is no way to
    them, neither their ports (on the host's loopback, outside the session's namespace) nor the
    hub's address with the session's token (the hub serves no dashboard page)."""
    ports = {board.service: port for board, port in hub.dashboard_ports.items()}
    for port in ports.values():  # they do listen, on the host
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
    assert hub.start_server("bob", "brca-study")[0] == 201
    try:
        code = f"PORTS = {ports!r}\n{TO_THE_DASHBOARDS}"
        seen = json.loads(hub.execute("bob", "brca-study", code))
        assert seen["hub api"], "the session could not reach the hub: the check proves nothing"
        for service, (at_hub, at_loopback, (status, page)) in seen["dashboards"].items():
            assert not at_hub and not at_loopback, f"{service} reachable from a session"
            assert status != 200 and not page, f"{service} served through the hub: {status}"
    finally:
        hub.stop_server("bob", "brca-study")
