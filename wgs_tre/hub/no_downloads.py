"""A Jupyter server extension every session loads: the session's server hands out no files,
and takes none in from the browser.

Results leave a project only through the airlock (``wgs_tre.airlock``), and its releases are
downloaded from the hub. A session's own server would otherwise give any workspace file to the
browser whole. Here:

* ``/files/...`` (downloads, and files opened in a new tab), ``/view/...`` and every
  ``/nbconvert/...`` export (a notebook as HTML, PDF, script, ... for download) are refused;
* the contents API still lists directories and gives files' details (``content=0``), and gives
  the content its editors need, no more: a notebook up to ``NOTEBOOK_LIMIT`` bytes and a source
  file (``SOURCE_SUFFIXES``) up to ``SOURCE_LIMIT``, as text. Any other file's content (a
  table, an image, an archive, ...), and any content as base64, is refused;
* terminals are off (``ServerApp.terminals_enabled``, in ``jupyter_config``);
* uploads are refused: JupyterLab sends every uploaded file as base64, and the editors save
  notebooks and text as JSON and text, so a base64 write is an upload. Files come in through
  the airlock's ingress, which sanitizes them.

Every refusal says where outputs go instead. This bounds file transfer, not the screen: what
a notebook shows, its user sees, which is why what leaves is a file that stewards review.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler, path_regex
from jupyter_server.services.contents import handlers as contents
from jupyter_server.utils import ensure_async, url_path_join
from tornado import web

__all__ = ["COME_IN", "NOTEBOOK_LIMIT", "SOURCE_LIMIT", "SOURCE_SUFFIXES", "why_not_served"]

NOTEBOOK_LIMIT = 16 << 20
SOURCE_LIMIT = 1 << 20
# code and its documentation, as the editors open them; not data (.csv, .tsv, .json, .txt)
SOURCE_SUFFIXES = frozenset(
    {".py", ".r", ".R", ".jl", ".sh", ".sql", ".md", ".rst", ".toml", ".yaml", ".yml", ".cfg"}
    | {".ini", ".nf", ".wdl", ".smk", ".ipynb"}
)
COME_IN = (
    "files come into a project only through the airlock, which checks them: bring a file in "
    "from your page on the hub, or with `wgs-tre airlock bring-in`"
)
INSTEAD = (
    "files leave a project only through the airlock: `wgs-tre airlock create` (or "
    "wgs_tre.airlock in a notebook), then download the release from the hub's home page"
)


def why_not_served(name: str, kind: str, size: int | None, fmt: str | None) -> str | None:
    """Why the contents API will not give this file's content to the browser, or None."""
    if fmt == "base64":
        return f"{name}: the session's server gives no file as base64; {INSTEAD}"
    if kind == "notebook":
        limit = NOTEBOOK_LIMIT
    elif kind == "file" and PurePosixPath(name).suffix in SOURCE_SUFFIXES:
        limit = SOURCE_LIMIT
    else:
        return f"{name}: the session's editors open notebooks and source files only; {INSTEAD}"
    if size is not None and size > limit:
        return f"{name}: {size} bytes, more than an editor opens ({limit}); {INSTEAD}"
    return None


class Refused(JupyterHandler):
    """Every method of a file-transfer path: 403, saying where outputs go instead."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise web.HTTPError(403, f"{self.request.path}: {INSTEAD}")

    get = post = put = head = _refuse

    def check_xsrf_cookie(self) -> None:  # refused whatever the request carries
        return None


class ContentsWithoutDownloads(contents.ContentsHandler):
    """The contents API, giving a file's content only to the session's editors."""

    @web.authenticated
    @authorized
    async def get(self, path: str = "") -> None:
        if self.get_query_argument("content", default="1") != "0":
            model = await ensure_async(
                self.contents_manager.get(path=path, content=False)  # type: ignore[no-untyped-call]
            )
            if model["type"] != "directory":
                fmt = self.get_query_argument("format", default=None)
                refusal = why_not_served(model["path"], model["type"], model.get("size"), fmt)
                if refusal:
                    raise web.HTTPError(403, refusal)
        await super().get(path)  # type: ignore[misc]

    @web.authenticated
    @authorized
    async def put(self, path: str = "") -> None:
        model = self.get_json_body() or {}
        if model.get("format") == "base64":
            raise web.HTTPError(403, f"{path}: {COME_IN}")
        await super().put(path)  # type: ignore[misc]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    base = serverapp.web_app.settings["base_url"]
    path = path_regex

    def at(pattern: str) -> str:
        return url_path_join(base, pattern)

    # Handlers added by an extension are matched before the server's own. The contents API's
    # checkpoint and trust paths are listed again so that they keep their own handlers.
    serverapp.web_app.add_handlers(
        ".*$",
        [
            (at(r"/files/(.*)"), Refused),
            (at(r"/view/(.*)"), Refused),
            (at(r"/nbconvert/(.*)"), Refused),
            (at(rf"/api/contents{path}/checkpoints"), contents.CheckpointsHandler),
            (
                at(rf"/api/contents{path}/checkpoints/{contents._checkpoint_id_regex}"),
                contents.ModifyCheckpointsHandler,
            ),
            (at(rf"/api/contents{path}/trust"), contents.TrustNotebooksHandler),
            (at(rf"/api/contents{path}"), ContentsWithoutDownloads),
        ],
    )
