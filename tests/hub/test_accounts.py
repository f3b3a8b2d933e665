"""Root makes session homes inside directories an older layout let session accounts write:
whatever was planted at a home's place is refused, never followed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wgs_tre.hub.accounts import ensure_account, ensure_home

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="session accounts need root")


def test_a_new_home_is_the_accounts_own(tmp_path: Path) -> None:
    account = ensure_account("probe", tmp_path)
    home = ensure_home(account, "study")
    assert (home.stat().st_uid, home.stat().st_mode & 0o777) == (account.uid, 0o700)
    assert account.home.stat().st_uid == 0 and account.home.stat().st_mode & 0o077 == 0


def test_a_planted_symlink_is_refused_not_followed(tmp_path: Path) -> None:
    account = ensure_account("probe", tmp_path)
    target = tmp_path / "root-only"
    target.mkdir(mode=0o700)
    (account.home / "study").symlink_to(target)  # as a session could, before homes moved
    with pytest.raises(RuntimeError, match="not a directory"):
        ensure_home(account, "study")
    assert target.stat().st_uid == 0
