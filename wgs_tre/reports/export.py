"""A signed-off report as a PDF and as a FHIR R4 ``DiagnosticReport``.

The FHIR form follows the HL7 genomics-reporting guide's shape: a ``DiagnosticReport`` (LOINC
51969-4, genetic analysis report) whose results are one ``Observation`` per reported variant
(LOINC 69548-6, genetic variant assessment, with gene, HGVS, allelic state and genomic source
components) and one diagnostic implication per variant (LOINC 53037-8, clinical significance),
contained in the report. The subject is the patient under the hospital's own identifier.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from fhir.resources.diagnosticreport import DiagnosticReport
from fpdf import FPDF

from wgs_tre.governance.cases import ReportDocument

__all__ = ["COLUMNS", "cell", "diagnostic_report", "pdf_bytes"]

FONT = Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf")  # Latin and Japanese
LOINC = "http://loinc.org"
HGVS = "http://varnomen.hgvs.org"
SIGNIFICANCE = {
    "Pathogenic": "LA6668-3",
    "Likely pathogenic": "LA26332-9",
    "Uncertain significance": "LA26333-7",
    "Likely benign": "LA26334-5",
    "Benign": "LA6675-8",
}
ALLELIC_STATE = {"heterozygous": "LA6706-1", "homozygous": "LA6705-3"}
GENOMIC_SOURCE = {"germline": "LA6683-2", "somatic": "LA6684-0"}
COLUMNS = [
    ("gene", 22),
    ("variant", 52),
    ("zygosity", 26),
    ("consequence", 36),
    ("classification", 34),
    ("evidence", 0),
]


def _loinc(code: str, display: str = "") -> dict[str, Any]:
    coding = {"system": LOINC, "code": code, **({"display": display} if display else {})}
    return {"coding": [coding]}


def _component(code: str, display: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"code": _loinc(code, display), **value}


def _observations(document: ReportDocument) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = []
    for n, finding in enumerate(document.content["findings"], start=1):
        variant: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"variant-{n}",
            "status": "final",
            "code": _loinc("69548-6", "Genetic variant assessment"),
            "valueCodeableConcept": _loinc("LA9633-4", "Present"),
            "component": [
                _component(
                    "48018-6", "Gene studied", {"valueCodeableConcept": {"text": finding["gene"]}}
                ),
                _component(
                    "53034-5",
                    "Allelic state",
                    {
                        "valueCodeableConcept": _loinc(
                            ALLELIC_STATE[finding["zygosity"]], finding["zygosity"]
                        )
                    },
                ),
                _component(
                    "48002-0",
                    "Genomic source class",
                    {
                        "valueCodeableConcept": _loinc(
                            GENOMIC_SOURCE[finding["origin"]], finding["origin"]
                        )
                    },
                ),
                _component(
                    "81252-9",
                    "Discrete genetic variant",
                    {"valueCodeableConcept": {"text": finding["variant"]}},
                ),
            ],
        }
        if finding["hgvs"]:
            coded = {"coding": [{"system": HGVS, "code": finding["hgvs"]}]}
            variant["component"].append(
                _component("81290-9", "Genomic DNA change (gHGVS)", {"valueCodeableConcept": coded})
            )
        resources += [variant, _implication(n, finding)]
    return resources


def _implication(n: int, finding: dict[str, Any]) -> dict[str, Any]:
    """A germline variant's clinical significance (LOINC answer codes), or a somatic one's
    AMP/ASCO/CAP tier (as text: LOINC has no answer list for the tiers)."""
    significance = finding["classification"]
    germline = finding["origin"] == "germline"
    if germline:
        value = _loinc(SIGNIFICANCE[significance], significance)
        component = _component("53037-8", "Genetic variation clinical significance",
                               {"valueCodeableConcept": value})  # fmt: skip
    else:
        component = {"code": {"text": "AMP/ASCO/CAP 2017 tier"},
                     "valueCodeableConcept": {"text": significance}}  # fmt: skip
    return {
        "resourceType": "Observation",
        "id": f"implication-{n}",
        "status": "final",
        "code": _loinc("51967-8", "Genetic disease assessed") if germline
        else {"text": "Therapeutic implication"},
        "derivedFrom": [{"reference": f"#variant-{n}"}],
        "component": [component],
        "note": [{"text": "Evidence: " + ", ".join(e["code"] for e in finding["evidence"])}],
    }  # fmt: skip


def diagnostic_report(document: ReportDocument, pdf: bytes | None = None) -> dict[str, Any]:
    """The signed-off ``document`` as a FHIR R4 DiagnosticReport (JSON object), validated with
    fhir.resources; ``pdf`` is attached as its presented form."""
    signed = document.signed_off
    if signed is None:
        raise ValueError(f"the report of {document.case.ref} is not signed off")
    contained = _observations(document)
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": f"{document.case.ref}-v{document.version}",
        "identifier": [
            {"system": "urn:wgs-tre:report", "value": f"{document.case.ref}/{document.version}"}
        ],
        "status": "final",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE"}]}
        ],
        "code": _loinc("51969-4", "Genetic analysis report"),
        "subject": {
            "identifier": {"value": document.case.hospital_patient_id or document.case.ref},
            "display": f"patient of {document.case.hospital}",
        },
        "issued": signed.written_at.isoformat(),
        "performer": [{"display": document.case.hospital}],
        "resultsInterpreter": [{"display": signed.author}],
        "contained": contained,
        "result": [{"reference": f"#{r['id']}"} for r in contained],
        "conclusion": document.content["summary"],
    }
    if pdf is not None:
        resource["presentedForm"] = [
            {
                "contentType": "application/pdf",
                "title": f"{document.case.ref}.pdf",
                "data": base64.b64encode(pdf).decode(),
            }
        ]
    DiagnosticReport.model_validate(resource)  # raises on anything FHIR R4 does not allow
    return resource


class _Pdf(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="landscape", format="A4")
        self.unicode = FONT.exists()
        if self.unicode:
            self.add_font("body", fname=str(FONT))
            self.add_font("body", style="B", fname=str(FONT))  # table headings; no bold face
        self.set_auto_page_break(auto=True, margin=12)

    def use(self, size: float) -> None:
        self.set_font("body" if self.unicode else "helvetica", size=size)

    def text_line(self, text: str, size: float = 10, height: float = 6) -> None:
        self.use(size)
        if not self.unicode:  # the core fonts are Latin-1 only
            text = text.encode("latin-1", "replace").decode("latin-1")
        self.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")


def cell(finding: dict[str, Any], column: str) -> str:
    """What the variant table shows in ``column`` for ``finding`` (PDF and CLI alike)."""
    if column == "variant":
        protein = f" {finding['protein']}" if finding.get("protein") else ""
        return str(finding["hgvs"] or finding["variant"]) + protein
    if column == "zygosity" and finding["origin"] == "somatic":
        return "somatic"
    if column == "evidence":
        return ", ".join(e["code"] for e in finding["evidence"])
    return str(finding[column])


def pdf_bytes(document: ReportDocument) -> bytes:
    """The report as a PDF: the case, the sign-off, the summary and the variant table."""
    signed = document.signed_off
    case, content = document.case, document.content
    pdf = _Pdf()
    pdf.add_page()
    pdf.text_line(f"Genome analysis report - case {case.ref}", size=16, height=9)
    pdf.text_line(
        f"{case.hospital}, patient {case.hospital_patient_id or '(not shown)'}; "
        f"{content['diagnosis']['name']} ({content['diagnosis']['code']}); "
        f"version {document.version}"
    )
    clinical = content.get("clinical") or {}
    if clinical:
        pdf.text_line(
            "Clinical background: "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in clinical.items())
        )
    if signed is not None:
        pdf.text_line(
            f"Signed off by {signed.author} on {signed.written_at:%Y-%m-%d %H:%M} UTC"
            + (f": {signed.text}" if signed.text else "")
        )
    pdf.ln(2)
    pdf.text_line("Summary", size=12)
    pdf.text_line(content["summary"])
    pdf.ln(2)
    pdf.text_line("Reported variants", size=12)
    pdf.use(9)
    width = pdf.epw - sum(w for _, w in COLUMNS)
    with pdf.table(col_widths=[w or width for _, w in COLUMNS], text_align="LEFT") as table:
        header = table.row()
        for name, _ in COLUMNS:
            header.cell(name)
        for finding in content["findings"]:
            row = table.row()
            for name, _ in COLUMNS:
                row.cell(cell(finding, name))
    if not content["findings"]:
        pdf.text_line("No variant met the reporting criteria.")
    pdf.ln(2)
    skipped = ", ".join(f"{v} {k}" for k, v in content["not_reported"].items()) or "none"
    pdf.text_line(f"Not reported: {skipped}.", size=9)
    sources = ", ".join(v for v in content["sources"].values() if v)
    pdf.text_line(f"Method: classification rules {content['rules']}; data {sources}.", size=9)
    return bytes(pdf.output())
