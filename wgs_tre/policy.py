"""Policies from ``policies/*.yaml``, validated by pydantic, default deny.

A missing or empty file grants nothing: no role may do anything, no application can reach a
quorum, no approval can be granted. A broken file is an error naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError, field_validator

from wgs_tre.errors import PolicyError
from wgs_tre.types import Action, Role

__all__ = [
    "ComputePolicy",
    "ComputeProfile",
    "EgressPolicy",
    "JobQueueProfile",
    "LocalProfile",
    "Policies",
    "ReviewPolicy",
    "RolePolicy",
    "SessionPolicy",
    "SparkProfile",
    "load_policies",
    "load_policy_file",
]

M = TypeVar("M", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RolePolicy(_Strict):
    """``roles.yaml``: which actions each role may perform."""

    roles: dict[Role, frozenset[Action]] = Field(default_factory=dict)

    @field_validator("roles", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, dict):
            return {role: (actions or []) for role, actions in value.items()}
        return value

    def allows(self, roles: frozenset[Role], action: Action) -> bool:
        return any(action in self.roles.get(role, frozenset()) for role in roles)

    def roles_allowed(self, action: Action) -> list[Role]:
        return [role for role, actions in self.roles.items() if action in actions]


class ReviewPolicy(_Strict):
    """``review.yaml``: the data-use review committee's rules.

    An application needs at least ``quorum`` votes from eligible stewards, and more approving
    than rejecting votes, to be approved. Approvals last at most ``max_approval_days``.
    """

    quorum: int | None = Field(default=None, ge=1)
    max_approval_days: int | None = Field(default=None, ge=1)


class Endpoint(_Strict):
    address: IPv4Address
    port: int = Field(ge=1, le=65535)


class ProxyPolicy(_Strict):
    hosts: tuple[str, ...] = ()

    @field_validator("hosts", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    def allows(self, host: str, port: int) -> bool:
        """``host:port`` is allowed if an entry names it, or the host without a port (any
        port), or a ``*.suffix`` the host falls under."""
        host = host.lower().rstrip(".")
        for entry in self.hosts:
            name, _, entry_port = entry.lower().partition(":")
            if entry_port and int(entry_port) != port:
                continue
            if name == host or (name.startswith("*.") and host.endswith(name[1:])):
                return True
        return False


class EgressPolicy(_Strict):
    """``egress.yaml``: where sessions may connect besides the hub (default: nowhere)."""

    allow: tuple[Endpoint, ...] = ()
    proxy: ProxyPolicy = Field(default_factory=ProxyPolicy)

    @field_validator("allow", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value


class SessionPolicy(_Strict):
    """``sessions.yaml``: idle timeout, how fast sessions stop after access ends, and what one
    session may use (enforced by cgroups where the host has them; ``null``: no limit)."""

    idle_timeout_seconds: int = Field(default=3600, ge=1)
    revocation_grace_seconds: int = Field(default=30, ge=1, le=3600)
    memory: ByteSize | None = Field(
        default=ByteSize(8 * 2**30), description="memory of all its processes, e.g. 8GiB"
    )
    cpus: float | None = Field(default=None, gt=0, description="CPU time, in cores")
    processes: int | None = Field(
        default=1024, ge=16, description="processes and threads, all counted together"
    )


_BYTES = r"^\d+(\.\d+)?\s*([KMGT]i?B)$"  # Dask's spelling: 2GB, 512MiB


class LocalProfile(_Strict):
    """Dask workers as processes on this machine (or in this session)."""

    kind: Literal["local"]
    description: str = ""
    workers: int = Field(default=1, ge=1)
    threads: int = Field(default=2, ge=1, description="threads per worker")
    memory: str = Field(default="4GB", pattern=_BYTES, description="limit per worker")


class JobQueueProfile(_Strict):
    """Dask workers as batch jobs on Slurm or PBS (dask-jobqueue), one worker per job.

    Jobs are named ``wgs-tre-<project>``; ``account`` may say ``{project}`` so sites that
    account per project get it filled in.
    """

    kind: Literal["slurm", "pbs"]
    description: str = ""
    queue: str | None = None
    account: str | None = None
    cores: int = Field(default=1, ge=1, description="threads per worker job")
    memory: str = Field(default="4GB", pattern=_BYTES, description="memory per worker job")
    walltime: str = Field(default="01:00:00", pattern=r"^(\d+-)?\d{1,3}:\d\d:\d\d$")
    workers: int = Field(default=1, ge=1, description="jobs submitted at start")
    max_workers: int | None = Field(default=None, ge=1, description="adapt up to this many")
    scheduler_host: str | None = Field(
        default=None, description="address workers connect back to (default: Dask's choice)"
    )
    directives: tuple[str, ...] = Field(default=(), description="extra #SBATCH/#PBS lines")
    log_directory: str | None = Field(
        default=None, description="where jobs write their output (default: the working directory)"
    )
    start_timeout_seconds: int = Field(default=600, ge=1)

    @field_validator("account")
    @classmethod
    def _only_project_placeholder(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format(project="p")
            except (KeyError, IndexError, ValueError):
                raise ValueError("may hold only the placeholder {project}") from None
        return value


class SparkProfile(_Strict):
    """Hail on Spark: ``local[N]`` in this process, or a given Spark master URL."""

    kind: Literal["spark"]
    description: str = ""
    master: str = Field(default="local[2]", pattern=r"^(local(\[(\d+|\*)\])?|spark://.+|yarn)$")
    driver_memory: str | None = Field(default=None, pattern=r"^\d+[kmgt]$")


ComputeProfile = Annotated[
    LocalProfile | JobQueueProfile | SparkProfile, Field(discriminator="kind")
]


class ComputePolicy(_Strict):
    """``compute.yaml``: named compute profiles researchers choose from (none by default)."""

    profiles: dict[str, ComputeProfile] = Field(default_factory=dict)
    default: str | None = None  # after profiles: its validator reads them

    @field_validator("profiles", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("default")
    @classmethod
    def _default_is_a_profile(cls, value: str | None, info: Any) -> str | None:
        profiles = info.data.get("profiles", {})
        if value is not None and value not in profiles:
            raise ValueError(f"names no profile (profiles: {', '.join(profiles) or 'none'})")
        return value


@dataclass(frozen=True)
class Policies:
    roles: RolePolicy = field(default_factory=RolePolicy)
    review: ReviewPolicy = field(default_factory=ReviewPolicy)
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    compute: ComputePolicy = field(default_factory=ComputePolicy)
    source: Path | None = None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(str(path), f"not valid YAML{where}: {exc.problem}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(str(path), f"cannot read: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PolicyError(str(path), f"expected a mapping at the top, found {type(data).__name__}")
    return data


def _validate(model: type[M], path: Path) -> M:
    try:
        return model.model_validate(_read_yaml(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise PolicyError(str(path), f"{loc}: {first['msg']}") from None


def load_policy_file(model: type[M], path: Path) -> M:
    """Load and validate one policy file against ``model`` (a missing or empty file gives the
    model's defaults); a broken file raises :class:`PolicyError` naming the file and the field."""
    return _validate(model, path)


def load_policies(directory: Path) -> Policies:
    """Load and validate every policy file in ``directory`` (which may not exist: deny all)."""
    return Policies(
        roles=_validate(RolePolicy, directory / "roles.yaml"),
        review=_validate(ReviewPolicy, directory / "review.yaml"),
        egress=_validate(EgressPolicy, directory / "egress.yaml"),
        sessions=_validate(SessionPolicy, directory / "sessions.yaml"),
        compute=_validate(ComputePolicy, directory / "compute.yaml"),
        source=directory,
    )
