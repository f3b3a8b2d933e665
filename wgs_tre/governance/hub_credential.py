"""A JupyterHub API token as a host credential: ``wgs-tre login`` stores it, and every later
command asks the hub whose token it is (``GET /hub/api/user``), so a revoked or expired token
stops working at once and the name acted as is the hub's word, not the file's.

The file (``~/.config/wgs-tre/credentials.json``: hub, name, token) is written mode 0600 and
refused if its group or others may read it, or if someone else owns it.

Only hubs root lists in ``/etc/wgs-tre/trusted-hubs`` (one URL per line) are asked: any server
can answer ``/hub/api/user`` with any name, so a hub of the user's own choosing would make the
credential a claim again, and a token sent to it would leak. ``WGS_TRE_TRUSTED_HUBS`` may name
another list, which counts only if root owns it and no one else may write it.
"""

from __future__ import annotations

import json
import os
import stat
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from wgs_tre.errors import ConfigurationError, Refused

__all__ = [
    "DEFAULT_HUB",
    "TRUSTED_HUBS",
    "HubCredential",
    "credentials_path",
    "hub_user",
    "load",
    "remove",
    "save",
    "trusted_hubs",
]

DEFAULT_HUB = "http://127.0.0.1:8000"
TIMEOUT_SECONDS = 10
TRUSTED_HUBS = Path("/etc/wgs-tre/trusted-hubs")
TRUSTED_HUBS_VARIABLE = "WGS_TRE_TRUSTED_HUBS"
ROOT_UID = 0


@dataclass(frozen=True)
class HubCredential:
    hub: str
    name: str
    token: str = field(repr=False)  # never in a log or a traceback


def credentials_path() -> Path:
    return Path.home() / ".config" / "wgs-tre" / "credentials.json"


def normalise_hub(url: str) -> str:
    """``http://host:8000``, ``.../hub/`` and ``.../hub/api`` all name the same hub."""
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"hub URL is not an http(s) URL: {url!r}")
    base = url.rstrip("/")
    for suffix in ("/hub/api", "/hub"):
        base = base.removesuffix(suffix)
    return base


def trusted_hubs() -> tuple[Path, set[str]]:
    """The list of hubs root trusts for logins (its path, the normalised URLs): empty if there
    is no list; refused if anyone but root could have written it."""
    path = Path(os.environ.get(TRUSTED_HUBS_VARIABLE) or TRUSTED_HUBS)
    try:
        # Checked on the open file, so it cannot be swapped between the check and the read.
        with path.open("rb") as fh:
            info = os.fstat(fh.fileno())
            if info.st_uid != ROOT_UID or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise Refused(
                    f"{path} is not under root's control (owner uid {info.st_uid}, mode "
                    f"{stat.S_IMODE(info.st_mode):o}), so no hub it lists is trusted for logins"
                )
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return path, set()
    except IsADirectoryError:
        raise ConfigurationError(f"{path} is a directory, not a list of hubs") from None
    except PermissionError:
        raise ConfigurationError(f"cannot read {path}: permission denied") from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return path, {normalise_hub(line) for line in lines if line}


def _require_trusted(hub: str) -> None:
    path, trusted = trusted_hubs()
    if normalise_hub(hub) not in trusted:
        raise Refused(
            f"the hub at {hub} is not one this host trusts for logins (root lists them in "
            f"{path}, one URL per line); the token was not sent to it"
        )


def hub_user(hub: str, token: str) -> str:
    """The name the hub gives the owner of ``token``; refused if the hub is not one root trusts
    (before the token is sent) or does not accept the token."""
    _require_trusted(hub)
    request = urllib.request.Request(  # noqa: S310 - http(s) checked by normalise_hub
        normalise_hub(hub) + "/hub/api/user", headers={"Authorization": f"token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            body = json.load(answer)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise Refused(
                f"the hub at {hub} does not accept the token (HTTP {exc.code}: expired, revoked "
                "or mistyped); run `wgs-tre login` again"
            ) from None
        raise ConfigurationError(f"the hub at {hub} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigurationError(f"cannot reach the hub at {hub}: {reason}") from None
    except ValueError:
        raise ConfigurationError(f"the hub at {hub} did not answer JSON") from None
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"the hub at {hub} did not name the token's user")
    return name


def save(credential: HubCredential) -> Path:
    """Write the credential, readable by its owner only (created 0600, never wider)."""
    path = credentials_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
        json.dump({"hub": credential.hub, "name": credential.name, "token": credential.token}, fh)
    return path


def load() -> HubCredential | None:
    """The stored credential, or None; refused if others could read it or it is not ours."""
    path = credentials_path()
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if info.st_uid != os.getuid():
        raise Refused(f"{path} belongs to uid {info.st_uid}, not to you: remove it")
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise Refused(
            f"{path} is readable by others (mode {stat.S_IMODE(info.st_mode):o}), so its token "
            f"may be known: `wgs-tre logout`, revoke the token on the hub, and log in again"
        )
    try:
        stored = json.loads(path.read_text())
        return HubCredential(str(stored["hub"]), str(stored["name"]), str(stored["token"]))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise ConfigurationError(
            f"{path} is not a wgs-tre credentials file: `wgs-tre logout` and log in again"
        ) from None


def remove() -> bool:
    """Forget the stored credential; whether there was one."""
    try:
        credentials_path().unlink()
    except FileNotFoundError:
        return False
    return True
