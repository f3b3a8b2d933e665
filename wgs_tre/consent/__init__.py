"""The registry of participants' FHIR Consents and the questions asked of it."""

from wgs_tre.consent.registry import (
    ConsentStatus,
    ImportReport,
    history,
    import_file,
    permitted_participants,
    status_summary,
)

__all__ = [
    "ConsentStatus",
    "ImportReport",
    "history",
    "import_file",
    "permitted_participants",
    "status_summary",
]
