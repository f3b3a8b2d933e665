"""What every dashboard page shows first: who its kernel acts as, and how that was established.

A static output (not a widget), so it is in the page's HTML itself: the person reads whom the
dashboard acts as, and a test can check it without a browser.
"""

from __future__ import annotations

from html import escape

from IPython.display import HTML

from wgs_tre.governance.identity import Identity

__all__ = ["identity_banner"]


def identity_banner(identity: Identity) -> HTML:
    return HTML(
        f'<div id="tre-dashboard-identity" data-account="{escape(identity.account)}" '
        f'data-via="{escape(str(identity.via))}">{escape(identity.describe())}</div>'
    )
