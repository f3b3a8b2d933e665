"""Output requests from a notebook: ``wgs_tre.airlock.request(...)`` in a session.

A session cannot write governance records, so it asks the hub's data service, with its own
token; the service acts for the session's user on the session's project and on the workspace
the hub defines for it (a session cannot name another directory), and audits. Check an output
first with :func:`wgs_tre.airlock.self_check`: the stewards see the same findings.

    >>> from wgs_tre import airlock
    >>> airlock.request({"results/by_region.csv": "Table 2 of the paper"},
    ...                 purpose="BRCA carriers by region, for the paper")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wgs_tre import wire
from wgs_tre.errors import ConfigurationError, InvalidInput

__all__ = ["RequestStatus", "request", "status"]

SERVICE_PATH = "api/airlock/requests"


@dataclass(frozen=True)
class RequestStatus:
    """An output request as the session sees it: where it is, and what the checks found."""

    ref: str
    project: str
    state: str
    approvals: int
    approvals_needed: int
    files: tuple[dict[str, Any], ...]

    @classmethod
    def from_wire(cls, answer: dict[str, Any]) -> RequestStatus:
        return cls(
            answer["ref"],
            answer["project"],
            answer["state"],
            answer["approvals"],
            answer["approvals_needed"],
            tuple(answer["files"]),
        )

    def __str__(self) -> str:
        lines = [
            f"{self.ref} ({self.project}): {self.state}, "
            f"{self.approvals} of {self.approvals_needed} approvals"
        ]
        for entry in self.files:
            findings = entry.get("findings")
            if findings is None:
                said = "no pseudonym in it; for the stewards' eyes"
            elif not findings:
                said = "passes every disclosure check"
            else:
                said = f"{len(findings)} finding(s): " + "; ".join(f["message"] for f in findings)
            lines.append(f"  {entry['name']}: {said}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython shows the summary
        printer.text(str(self))


def _service() -> tuple[str, str]:
    found = wire.session_service()
    if found is None:
        raise ConfigurationError(
            "wgs_tre.airlock.request works in a project session; on the host, use "
            "`wgs-tre airlock create`, `add` and `submit`"
        )
    return found


def _in_session(path: str | Path) -> str:
    """An absolute path: relative paths are from the notebook's directory, as open() reads."""
    return str(Path(path) if Path(path).is_absolute() else Path.cwd() / path)


def request(
    files: Mapping[str, str] | Sequence[str | Path] | str | Path,
    purpose: str,
    *,
    justification: str | None = None,
    keep_outputs: Sequence[str | Path] = (),
) -> RequestStatus:
    """Ask for ``files`` of the project's workspace to leave, and send them to the stewards.

    Parameters
    ----------
    files
        Each file with why it should leave (``{"results/t2.csv": "Table 2"}``); or a file, or a
        list of files, that share one ``justification``.
    purpose
        What the outputs are for (a paper, a talk), for the stewards.
    keep_outputs
        Notebooks among ``files`` whose outputs are what the stewards review; other notebooks
        leave without their outputs.

    Returns
    -------
    RequestStatus
        The submitted request: its reference, and each file's automatic check findings.

    Raises
    ------
    InvalidInput
        A file is missing, outside the workspace, or has no justification.
    Refused
        Not an active member of the project's approval (audited).
    """
    url, token = _service()
    if isinstance(files, str | Path):
        files = [files]
    if isinstance(files, Mapping):
        named = {_in_session(path): why for path, why in files.items()}
    else:
        if not justification:
            raise InvalidInput("justification", "say why these files should leave")
        named = {_in_session(path): justification for path in files}
    kept = [_in_session(path) for path in keep_outputs]
    body = {"purpose": purpose, "files": named, "keep_outputs": kept}
    answer = wire.call(url, token, SERVICE_PATH, body)
    return RequestStatus.from_wire(answer)


def status(ref: str | None = None) -> RequestStatus | list[RequestStatus]:
    """One output request of the session's project (``ref``), or all of them."""
    url, token = _service()
    if ref is not None:
        return RequestStatus.from_wire(wire.call(url, token, f"{SERVICE_PATH}/{ref}", None))
    return [RequestStatus.from_wire(r) for r in wire.call(url, token, SERVICE_PATH, None)]
