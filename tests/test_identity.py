"""Identity is not a claim (DESIGN property 13): the CLI acts as the TRE account of the OS login
that really runs it, only root may act as another account, and every audit event says which OS
account acted.

These tests make a real unprivileged OS account (removed afterwards), mapped to a researcher by
name, and run the real ``wgs-tre`` as it with ``runuser`` on a scratch SQLite store it may write.
``wgs-tre login`` is checked against a small real HTTP server in the test that answers
``GET /hub/api/user`` as JupyterHub does (an external boundary; a real hub costs a minute to
start): the token travels over real HTTP, and the server decides whom it belongs to.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
WGS_TRE = REPO / ".venv" / "bin" / "wgs-tre"
LOGIN = "wgsidprobe"  # the OS login, and the researcher's TRE account of the same name
STEWARD = "sato"
ADMIN = "root1"
REFUSED = 4  # the README's exit code for refusals
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"  # the CLI's own PATH is /usr/bin:/bin
# runuser keeps the environment given (HOME, and the USER/LOGNAME claims the tests make)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="making an OS account needs root")


@dataclass
class Scratch:
    """A store both root and the OS login may write, and the two ways of running the CLI."""

    root: Path
    uid: int = 0
    homes: int = 0
    trusted_hubs: Path = Path("/nonexistent")  # root's list of hubs (in a directory of root's)

    @property
    def db(self) -> Path:
        return self.root / "state" / "governance.db"

    def env(self, home: Path | None = None, **extra: str) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            "HOME": str(home or self.root / "home"),
            "COLUMNS": "400",  # one line per message
            "WGS_TRE_DATA_DIR": str(self.root / "state"),
            "WGS_TRE_POLICY_DIR": str(REPO / "policies"),
            "WGS_TRE_TRUSTED_HUBS": str(self.trusted_hubs),
            **extra,
        }

    def as_login(
        self, *args: str, home: Path | None = None, stdin: str = "", **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``wgs-tre ARGS`` run by the unprivileged OS account."""
        return self.run_as_login([str(WGS_TRE), *args], self.env(home, **env), stdin)

    @staticmethod
    def run_as_login(
        argv: list[str], env: dict[str, str], stdin: str = ""
    ) -> subprocess.CompletedProcess[str]:
        return _run([RUNUSER, "--preserve-environment", "-u", LOGIN, "--", *argv], env, stdin)

    def as_root(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return _run([str(WGS_TRE), *args], self.env(**env), "")

    def new_home(self) -> Path:
        """A home of the OS login's own, so each test starts logged out."""
        self.homes += 1
        home = self.root / f"home-{self.homes}"
        home.mkdir(mode=0o700)
        os.chown(home, self.uid, self.uid)
        return home

    def last_event(self) -> dict[str, Any]:
        return self.event("ORDER BY seq DESC LIMIT 1")

    def event(self, where: str) -> dict[str, Any]:
        """An audit event, read with plain SQL (``where``: a constant clause); details parsed."""
        with closing(sqlite3.connect(self.db)) as db:
            db.row_factory = sqlite3.Row
            row = dict(db.execute(f"SELECT * FROM audit_event {where}").fetchone())
        row["details"] = json.loads(row["details"])
        return row


def _run(argv: list[str], env: dict[str, str], stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, check=False)


def _ok(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.startswith(("{", "[")) else done.stdout


@pytest.fixture(scope="module")
def scratch() -> Iterator[Scratch]:
    subprocess.run(["useradd", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "--home-dir", "/nonexistent", LOGIN], check=True)  # fmt: skip
    root = Path(tempfile.mkdtemp(prefix="wgs-tre-identity-"))
    try:
        uid = pwd.getpwnam(LOGIN).pw_uid
        place = Scratch(root, uid)
        (root / "state").mkdir()
        (root / "home").mkdir()
        _ok(place.as_root("init", "--admin", ADMIN))
        _ok(place.as_root("--as", ADMIN, "users", "create", LOGIN, "--role", "researcher"))
        _ok(place.as_root("--as", ADMIN, "users", "create", STEWARD, "--role", "steward"))
        for path in (root, *root.rglob("*")):  # the OS login may read and write the store
            os.chown(path, uid, uid)
        place.trusted_hubs = Path(tempfile.mkdtemp(prefix="wgs-tre-hubs-")) / "trusted-hubs"
        place.trusted_hubs.parent.chmod(0o755)  # as /etc/wgs-tre: everyone reads, root writes
        yield place
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if place.trusted_hubs.parent.name.startswith("wgs-tre-hubs-"):
            shutil.rmtree(place.trusted_hubs.parent, ignore_errors=True)
        subprocess.run(["userdel", LOGIN], check=True)


def test_the_cli_acts_as_the_os_login_whatever_the_environment_claims(scratch: Scratch) -> None:
    claims = {"WGS_TRE_USER": STEWARD, "USER": STEWARD, "LOGNAME": STEWARD}
    who = _ok(scratch.as_login("whoami", "--json", **claims))
    assert who == {"account": LOGIN, "os_account": LOGIN, "via": "os login", "hub": None}


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--as", STEWARD, "store", "check"), {}),
        (("store", "check", "--as", STEWARD), {}),  # --as anywhere on the line
        (("store", "check"), {"WGS_TRE_AS": STEWARD}),  # root's variable, ignored for others
    ],
)
def test_a_researcher_cannot_act_as_a_steward(
    scratch: Scratch, args: tuple[str, ...], env: dict[str, str]
) -> None:
    before = scratch.last_event()["seq"]
    done = scratch.as_login(*args, **env)
    assert done.returncode == REFUSED, done.stderr
    reason = (
        f"only root may act as another account: you are {LOGIN} (os login '{LOGIN}'), not "
        f"'{STEWARD}'; to act as {STEWARD}, `wgs-tre login` with a hub token of theirs"
    )
    assert done.stderr.strip() == f"error: refused: {reason}"
    assert act_as_refusal_audited(scratch, before) == reason  # nothing ran as the steward


def act_as_refusal_audited(scratch: Scratch, before: int) -> str:
    """The one event after ``before``: a refused ``identity.act_as`` by the OS account that
    asked. Returns its reason."""
    event = scratch.last_event()
    assert event["seq"] == before + 1, "the refused --as was not audited"
    assert (event["actor"], event["action"], event["decision"]) == (
        LOGIN, "identity.act_as", "refused"
    )  # fmt: skip
    assert event["details"] == {"os_account": LOGIN, "identity_via": "os login"}
    return str(event["reason"])


def test_a_steward_command_is_refused_to_the_researcher_and_audited_with_the_os_account(
    scratch: Scratch,
) -> None:
    done = scratch.as_login("store", "check", WGS_TRE_USER=STEWARD)
    assert done.returncode == REFUSED, done.stderr
    assert "role not allowed" in done.stderr
    event = scratch.last_event()
    assert (event["actor"], event["action"], event["decision"]) == (
        LOGIN,
        "store.check",
        "refused",
    )
    assert event["details"] == {"os_account": LOGIN, "identity_via": "os login"}


def test_root_acting_as_an_account_is_audited_as_root(scratch: Scratch) -> None:
    _ok(scratch.as_root("orgs", "create", "Root Test Org", "--type", "academic", "--as", ADMIN))
    event = scratch.last_event()
    assert (event["actor"], event["action"]) == (ADMIN, "org.create")
    assert event["details"] == {"os_account": "root", "identity_via": "root acting as"}
    shown = _ok(scratch.as_root("--as", ADMIN, "audit", "tail", "-n", "1"))
    assert f"{ADMIN} (by root)" in shown
    bootstrap = scratch.event("WHERE seq = 1")  # `init --admin`, before any account existed
    assert (bootstrap["actor"], bootstrap["details"]) == (
        "os:root",
        {"os_account": "root", "identity_via": "os login"},
    )
    who = _ok(scratch.as_root("--json", "whoami", WGS_TRE_AS=STEWARD))
    assert who == {"account": STEWARD, "os_account": "root", "via": "root acting as", "hub": None}


def test_an_os_login_without_an_account_is_refused_by_name(scratch: Scratch) -> None:
    done = scratch.as_root("store", "check")  # root itself has no TRE account
    assert done.returncode == REFUSED
    assert done.stderr.startswith(
        "error: refused: OS login 'root' is not mapped to a TRE account: an admin can create it"
    )


def test_host_open_project_follows_the_same_rule(scratch: Scratch) -> None:
    code = (
        "from wgs_tre import open_project\nfrom wgs_tre.errors import Refused\n"
        "try:\n    open_project('any-study', user='sato')\n"
        "except Refused as refusal:\n    print(refusal)\n"
    )
    python = str(REPO / ".venv" / "bin" / "python")
    env = scratch.env(NUMBA_CACHE_DIR=str(scratch.root / "home"))  # one the OS login may write
    before = scratch.last_event()["seq"]
    done = scratch.run_as_login([python, "-c", code], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"refused: only root may act as another account: you are {LOGIN} (os login"
    )
    assert f"refused: {act_as_refusal_audited(scratch, before)}" == done.stdout.strip()


# -- wgs-tre login: a hub token ----------------------------------------------------------------


@dataclass
class Hub:
    """Answers ``GET /hub/api/user`` as JupyterHub does: the token's owner, or 403."""

    url: str
    tokens: dict[str, str] = field(default_factory=dict)  # token -> user name
    seen: list[str] = field(default_factory=list)  # Authorization headers received


@pytest.fixture
def hub(scratch: Scratch) -> Iterator[Hub]:
    """A hub root trusts: listed in the scratch's trusted-hubs file (root's, mode 0644)."""
    place = Hub("")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server calls it by this name
            header = self.headers.get("Authorization", "")
            place.seen.append(header)
            owner = place.tokens.get(header.removeprefix("token "))
            found = self.path == "/hub/api/user" and owner is not None
            body = {"name": owner, "kind": "user"} if found else {"status": 403}
            self.send_response(200 if found else 403)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    place.url = f"http://127.0.0.1:{server.server_port}"
    scratch.trusted_hubs.write_text(f"# hubs whose tokens the CLI accepts\n{place.url}/hub/\n")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield place
    server.shutdown()
    server.server_close()
    scratch.trusted_hubs.unlink()


def test_login_with_a_hub_token_acts_as_its_owner_until_revoked(scratch: Scratch, hub: Hub) -> None:
    home = scratch.new_home()
    hub.tokens["t0ken-of-sato"] = STEWARD
    done = scratch.as_login("login", "--hub", hub.url + "/hub/", "--token-stdin", home=home,
                            stdin="t0ken-of-sato\n")  # fmt: skip
    assert _ok(done).startswith(f"✓ logged in to {hub.url} as {STEWARD}")
    stored = home / ".config" / "wgs-tre" / "credentials.json"
    assert (stored.stat().st_mode & 0o777, stored.stat().st_uid) == (0o600, scratch.uid)

    who = _ok(scratch.as_login("--json", "whoami", home=home))
    assert who == {"account": STEWARD, "os_account": LOGIN, "via": "hub credential",
                   "hub": hub.url}  # fmt: skip
    _ok(scratch.as_login("orgs", "create", "Hub Org", "--type", "academic", home=home))
    event = scratch.last_event()
    assert (event["actor"], event["action"]) == (STEWARD, "org.create")
    assert event["details"] == {"os_account": LOGIN, "identity_via": "hub credential"}
    assert hub.seen[-1] == "token t0ken-of-sato"  # re-checked with the hub at each command

    del hub.tokens["t0ken-of-sato"]  # revoked on the hub
    done = scratch.as_login("whoami", home=home)
    assert done.returncode == REFUSED
    assert f"the hub at {hub.url} does not accept the token (HTTP 403" in done.stderr

    assert _ok(scratch.as_login("logout", home=home)).startswith(f"✓ removed {stored}")
    assert _ok(scratch.as_login("--json", "whoami", home=home))["account"] == LOGIN


def test_a_token_the_hub_refuses_is_not_stored(scratch: Scratch, hub: Hub) -> None:
    home = scratch.new_home()
    done = scratch.as_login("login", "--hub", hub.url, "--token-stdin", home=home, stdin="nope\n")
    assert done.returncode == REFUSED
    assert "does not accept the token" in done.stderr
    assert not (home / ".config" / "wgs-tre" / "credentials.json").exists()


def _logged_in(scratch: Scratch, hub: Hub) -> tuple[Path, Path]:
    """A new home whose OS login has logged in with the steward's token: (home, its file)."""
    home = scratch.new_home()
    hub.tokens["t0ken-of-sato"] = STEWARD
    _ok(scratch.as_login("login", "--hub", hub.url, "--token-stdin", home=home,
                         stdin="t0ken-of-sato"))  # fmt: skip
    return home, home / ".config" / "wgs-tre" / "credentials.json"


def test_a_credentials_file_others_can_read_is_refused(scratch: Scratch, hub: Hub) -> None:
    home, stored = _logged_in(scratch, hub)
    stored.chmod(0o640)
    done = scratch.as_login("whoami", home=home)
    assert done.returncode == REFUSED
    assert f"{stored} is readable by others (mode 640)" in done.stderr
    assert len(hub.seen) == 1  # refused before the token was sent anywhere


def test_a_credentials_file_someone_else_owns_is_refused(scratch: Scratch, hub: Hub) -> None:
    home, stored = _logged_in(scratch, hub)
    os.chown(stored, 0, 0)  # planted by another account (here root), mode still 0600
    done = scratch.as_login("whoami", home=home)
    assert done.returncode == REFUSED
    assert f"{stored} belongs to uid 0, not to you" in done.stderr


def test_a_hub_root_does_not_trust_never_sees_the_token(scratch: Scratch, hub: Hub) -> None:
    home = scratch.new_home()
    # The researcher's own "hub" on another port would vouch for the steward: it is not listed.
    own = hub.url.rsplit(":", 1)[0] + ":9"
    done = scratch.as_login("login", "--hub", own, "--token-stdin", home=home, stdin="x\n")
    assert done.returncode == REFUSED
    assert f"the hub at {own} is not one this host trusts for logins" in done.stderr
    assert f"root lists them in {scratch.trusted_hubs}" in done.stderr
    assert not (home / ".config" / "wgs-tre" / "credentials.json").exists()


def test_a_list_of_hubs_root_does_not_control_is_refused(scratch: Scratch, hub: Hub) -> None:
    home = scratch.new_home()
    hub.tokens["t0ken-of-sato"] = STEWARD
    own_list = home / "my-hubs"
    own_list.write_text(hub.url + "\n")
    os.chown(own_list, scratch.uid, scratch.uid)  # the researcher's own list
    listed = {"WGS_TRE_TRUSTED_HUBS": str(own_list)}
    done = scratch.as_login("login", "--hub", hub.url, "--token-stdin", home=home,
                            stdin="t0ken-of-sato\n", **listed)  # fmt: skip
    assert done.returncode == REFUSED
    assert f"{own_list} is not under root's control (owner uid {scratch.uid}" in done.stderr
    assert hub.seen == []  # the token went nowhere
    os.chown(own_list, 0, 0)
    own_list.chmod(0o666)  # root's, but anyone may write it
    done = scratch.as_login("login", "--hub", hub.url, "--token-stdin", home=home,
                            stdin="t0ken-of-sato\n", **listed)  # fmt: skip
    assert done.returncode == REFUSED and "mode 666" in done.stderr and hub.seen == []
