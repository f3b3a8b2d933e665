"""Consent resources for tests: the library's builder, with shorter names."""

from __future__ import annotations

from typing import Any

from wgs_tre.consent.build import make_bundle, make_consent

consent = make_consent


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return make_bundle(resources)
