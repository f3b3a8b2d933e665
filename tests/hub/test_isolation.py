"""The isolation every TRE server shares is a base class whose rule for who may start a server
is a hook, deny by default: a dashboard or report server reuses the isolation with its own
rule; the project spawner's rule is governance's."""

from __future__ import annotations

import pytest
from tornado import web

from wgs_tre.hub.isolation import IsolatedSpawner


def test_an_isolated_server_starts_for_nobody_until_a_rule_says_otherwise() -> None:
    with pytest.raises(web.HTTPError) as refused:
        IsolatedSpawner().authorize()
    assert refused.value.status_code == 403
