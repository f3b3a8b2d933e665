"""Policies: validated, default deny, and a broken file is an error that changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.world import World
from wgs_tre.cli import main
from wgs_tre.errors import PermissionDenied, PolicyError, QuorumNotMet, Refused
from wgs_tre.governance import review, users
from wgs_tre.policy import Policies, load_policies
from wgs_tre.types import Action, OrgType, Role, Vote


@pytest.mark.parametrize(
    ("roles_yaml", "message"),
    [
        ("roles:\n  steward: [user.list\n", "not valid YAML at line 3"),
        ("roles:\n  steward: [user.lst]\n", "roles.steward"),
        ("roles:\n  wizard: [user.list]\n", "roles.wizard"),
        ("- just a list\n", "expected a mapping"),
        ("roles: {}\nextra: 1\n", "extra: Extra inputs are not permitted"),
    ],
)
def test_broken_role_policy_names_file_and_problem(
    tmp_path: Path, roles_yaml: str, message: str
) -> None:
    (tmp_path / "roles.yaml").write_text(roles_yaml)
    with pytest.raises(PolicyError) as error:
        load_policies(tmp_path)
    assert str(tmp_path / "roles.yaml") in error.value.message
    assert message in error.value.message


@pytest.mark.parametrize(
    ("review_yaml", "message"),
    [
        ("quorum: 0\n", "quorum: Input should be greater than or equal to 1"),
        ("quorum: two\n", "quorum: Input should be a valid integer"),
    ],
)
def test_broken_review_policy(tmp_path: Path, review_yaml: str, message: str) -> None:
    (tmp_path / "review.yaml").write_text(review_yaml)
    with pytest.raises(PolicyError, match=message):
        load_policies(tmp_path)


@pytest.mark.parametrize("content", [None, "", "roles:\n", "roles:\n  steward:\n"])
def test_missing_or_empty_role_policy_grants_nothing(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "roles.yaml").write_text(content)
    policies = load_policies(tmp_path)
    for role in Role:
        for action in Action:
            assert not policies.roles.allows(frozenset({role}), action)


def test_default_deny_through_the_real_path(world: World, tmp_path: Path) -> None:
    empty = load_policies(tmp_path / "nothing-here")
    world.policies = empty
    with pytest.raises(PermissionDenied, match="no role is granted it .*default deny"):
        users.create_organisation(world.ctx("root1"), "X", OrgType.ACADEMIC)
    assert world.last_event().decision == "refused"


def test_without_a_review_policy_nothing_can_be_approved(world: World, policies: Policies) -> None:
    world.apply()
    world.vote("brca-study", ("sam", Vote.APPROVE), ("sue", Vote.APPROVE))
    world.policies = Policies(roles=policies.roles)  # review.yaml missing
    with pytest.raises(Refused, match="the review policy sets no maximum approval length"):
        review.approve(world.ctx("sam"), "brca-study")
    with pytest.raises(QuorumNotMet, match="the review policy sets no quorum"):
        review.reject(world.ctx("sam"), "brca-study")


def test_cli_with_a_broken_policy_fails_clearly_and_changes_nothing(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "policies"
    shutil.copytree(world.policies.source, broken)  # type: ignore[arg-type]
    (broken / "roles.yaml").write_text("roles:\n  steward: [user.list\n")
    monkeypatch.setenv("WGS_TRE_DATABASE_URL", world.store.url.render_as_string(False))
    monkeypatch.setenv("WGS_TRE_POLICY_DIR", str(broken))
    before = world.counts()
    code = main(["--as", "root1", "orgs", "create", "New", "--type", "academic"])
    assert code == 6
    err = capsys.readouterr().err
    assert "roles.yaml" in err and "not valid YAML at line 3" in err and "Traceback" not in err
    assert world.counts() == before


@pytest.mark.parametrize(
    ("egress_yaml", "message"),
    [
        ("allow:\n  - address: pypi.org\n    port: 443\n", "allow.0.address"),
        ("allow:\n  - address: 10.0.0.1\n    port: 70000\n", "allow.0.port"),
        ("proxy:\n  hosts: pypi.org\n", "proxy.hosts"),
    ],
)
def test_broken_egress_policy(tmp_path: Path, egress_yaml: str, message: str) -> None:
    (tmp_path / "egress.yaml").write_text(egress_yaml)
    with pytest.raises(PolicyError, match=message):
        load_policies(tmp_path)


def test_missing_egress_policy_allows_nothing(tmp_path: Path) -> None:
    egress = load_policies(tmp_path).egress
    assert egress.allow == () and not egress.proxy.allows("pypi.org", 443)
