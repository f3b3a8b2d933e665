"""Dispensal: what a :class:`~wgs_tre.access.Grant` allows, as a project's view.

One dispenser per dataset kind (:mod:`wgs_tre.dispense.kinds`), registered here; the
materialisation for sessions (``wgs_tre.services.materialise``) and ``open_project()`` look the
dispenser up by the dataset's kind. A new kind: a module beside these and one line below.
"""

from wgs_tre.dispense.clinical import ClinicalDispenser, clinical_view
from wgs_tre.dispense.kinds import Dispenser, Progress, dispenser_for, register
from wgs_tre.dispense.variants import VariantsDispenser, variants_view

__all__ = [
    "Dispenser",
    "Progress",
    "clinical_view",
    "dispenser_for",
    "register",
    "variants_view",
]

register(VariantsDispenser())
register(ClinicalDispenser())
