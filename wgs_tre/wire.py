"""Calls from a session to the hub-side data service, and its errors rebuilt on this side.

The service sends a :class:`~wgs_tre.errors.WgsTreError` in one format
(:func:`wgs_tre.errors.to_wire`); :func:`call` raises the same exception here, so a refusal in
a notebook reads as it would on the host. Anything else in the way (a proxy's error page, a
crash) is a clear :class:`~wgs_tre.errors.ServiceUnavailable`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import urllib.error
import urllib.request
from enum import Enum
from pathlib import PurePath
from typing import Any

from wgs_tre.errors import ConfigurationError, Refused, ServiceUnavailable, WgsTreError, from_wire

__all__ = ["call", "jsonable", "rebuilt", "session_service"]


def session_service() -> tuple[str, str] | None:
    """The data service's URL and this session's token, or None outside a session."""
    service = os.environ.get("WGS_TRE_DATA_SERVICE")
    token = os.environ.get("JUPYTERHUB_API_TOKEN")
    return (service, token) if service and token else None


def call(url: str, token: str, path: str, body: dict[str, Any] | None) -> Any:
    """POST ``body`` to ``path`` under the service's ``url`` (GET without one); the JSON
    answer, or the service's error raised as itself."""
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"WGS_TRE_DATA_SERVICE is not an http(s) URL: {url}")
    request = urllib.request.Request(  # noqa: S310 - http(s) checked above
        url.rstrip("/") + "/" + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    try:
        # Every call is short: long work is a job the session follows.
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise rebuilt(error) from None
    except urllib.error.URLError as error:
        raise ServiceUnavailable(f"cannot reach the data service: {error.reason}") from None
    except ValueError:
        raise ServiceUnavailable("the data service answered with something not JSON") from None


def rebuilt(error: urllib.error.HTTPError) -> WgsTreError:
    """The exception the data service raised; for anything else, a clear unavailability."""
    try:
        body = json.loads(error.read())
    except ValueError:
        body = None
    if isinstance(body, dict) and (raised := from_wire(body)) is not None:
        return raised
    if error.code in (401, 403) and isinstance(body, dict) and "message" in body:
        return Refused(str(body["message"]))  # the hub's own refusal of the token
    return ServiceUnavailable(
        f"the data service is unavailable (HTTP {error.code} {error.reason}); "
        "if this persists, ask the TRE's administrators (the hub's log has the details)"
    )


def jsonable(value: Any) -> Any:
    """Dataclasses, enums, dates and paths -> plain JSON values (the CLI's ``--json``, the
    service's answers)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        # One form everywhere, as the audit log writes it: RFC 3339 in UTC with "Z".
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value
