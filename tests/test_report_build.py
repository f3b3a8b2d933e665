"""Case reports built from the genomics tests' ingested cohort (400 x 6,000, 1% missing calls),
checked against the cohort's VCF read with bcftools: which variants each case carries, their
zygosity, annotations and cohort frequencies; then exported as a PDF (read back with pypdf) and
a FHIR DiagnosticReport (validated with fhir.resources), through the CLI a panel member uses."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.world import ADMIN, World
from wgs_tre.governance import cases, users
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.reports.build import PANELS, generate, panel_of
from wgs_tre.reports.cases import cases_from_fhir
from wgs_tre.reports.classify import LOSS_OF_FUNCTION_GENES, NULL_CONSEQUENCES, AcmgClass, classify
from wgs_tre.reports.somatic import Tier, tier
from wgs_tre.types import OrgType, Role

HOSPITAL = "hospital-a"
LEFT_OUT = {AcmgClass.BENIGN, AcmgClass.LIKELY_BENIGN}
UNCERTAIN = AcmgClass.UNCERTAIN


@pytest.fixture(scope="module")
def reports_world(genomics_world: World) -> World:
    """The genomics world with hospital-a, its panel member kenji and hospital-a's cases."""
    world = genomics_world
    users.create_organisation(world.ctx(ADMIN), HOSPITAL, OrgType.DATA_PROVIDER)
    users.create_user(world.ctx(ADMIN), "kenji", roles={Role.EXPERT_PANEL}, organisation=HOSPITAL)
    bundle = world.tmp / "cohort" / "fhir" / f"{HOSPITAL}.json"
    cases.register_cases(world.ctx("sam"), HOSPITAL, cases_from_fhir([bundle]))
    ingest_vcf(world.ctx("sam"), tumours(world), "somatic", root=world.tmp / "datasets")
    return world


def tumours(world: World) -> Path:
    """The genomics cohort's tumour calls (make_cohort writes them beside its VCF)."""
    return world.tmp / "cohort" / "genotypes" / "somatic.vcf.gz"


def _oracle(world: World, participant: str) -> dict[str, dict[str, object]]:
    """Annotated non-intronic variants ``participant`` carries, read from the VCF by bcftools
    and counted here: variant key -> gene, consequence, assertion, zygosity, frequency."""
    vcf = world.tmp / "cohort" / "genotypes" / "cohort.vcf.gz"
    fields = "%CHROM\\t%POS\\t%REF\\t%ALT\\t%INFO/GENE\\t%INFO/CSQ\\t%INFO/CLNSIG\\t[%GT ]\\n"
    text = subprocess.run(
        ["bcftools", "query", "-i", 'INFO/GENE!="." && INFO/CSQ!="intron_variant"', "-f", fields,
         str(vcf)], check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    header = subprocess.run(["bcftools", "query", "-l", str(vcf)], check=True,
                            capture_output=True, text=True).stdout.split()  # fmt: skip
    column = header.index(participant)
    carried: dict[str, dict[str, object]] = {}
    for line in text.splitlines():
        contig, pos, ref, alt, gene, csq, assertion, calls = line.split("\t")
        alleles = [a for gt in calls.split() for a in gt.replace("|", "/").split("/")]
        called = [a for a in alleles if a != "."]
        own = calls.split()[column].replace("|", "/").split("/")
        if "." in own or own.count("1") == 0:
            continue
        carried[f"{contig}-{pos}-{ref}-{alt}"] = {
            "gene": gene, "consequence": csq, "assertion": None if assertion == "." else assertion,
            "zygosity": "homozygous" if own.count("1") == 2 else "heterozygous",
            "frequency": called.count("1") / len(called),
        }  # fmt: skip
    return carried


def _expected_codes(variant: dict[str, object]) -> list[str]:
    """The evidence codes of wgs_tre.reports.classify's table, derived here from the oracle."""
    gene, csq, assertion = variant["gene"], variant["consequence"], variant["assertion"]
    frequency = float(variant["frequency"])  # type: ignore[arg-type]
    codes = []
    if csq in NULL_CONSEQUENCES and gene in LOSS_OF_FUNCTION_GENES:
        codes.append("PVS1")
    named = {"Pathogenic": "PP5_Strong", "Likely_pathogenic": "PP5_Moderate",
             "Benign": "BP6_Strong", "Likely_benign": "BP6"}  # fmt: skip
    if assertion in named:
        codes.append(named[str(assertion)])
    if frequency > 0.05:
        codes.append("BA1")
    elif frequency > 0.01:
        codes.append("BS1")
    elif frequency <= 0.005:
        codes.append("PM2")
    if csq == "synonymous_variant":
        codes.append("BP7")
    return codes


def _cases_of(world: World) -> list[tuple[str, str, str]]:
    """(case ref, participant, diagnosis) of hospital-a's cases, read with the hub-side check."""
    refs = [c.ref for c in cases.list_cases(world.ctx("kenji"))]
    subjects = [cases.case_subject(world.ctx("sam"), ref, "wgs", None) for ref in refs]
    # By participant: case references are random, the cases a test picks must not be.
    return sorted(((s.ref, s.participant, s.diagnosis) for s in subjects), key=lambda c: c[1])


def test_each_report_holds_what_the_cohort_says_the_case_carries(reports_world: World) -> None:
    world = reports_world
    checked: Counter[str] = Counter()
    for ref, participant, diagnosis in _cases_of(world)[:12]:
        assert generate(world.ctx("sam"), ref, clinical="clinical") == 1
        document = cases.view(world.ctx("kenji"), ref)
        content, oracle = document.content, _oracle(world, participant)
        _, panel = panel_of(diagnosis)
        assert content["panel"] == list(panel) and panel, f"{diagnosis} has no panel"
        reported = {f["variant"]: f for f in content["findings"]}
        for key, variant in oracle.items():
            codes = _expected_codes(variant)
            finding = reported.get(key)
            acmg, _ = classify(variant["gene"], variant["consequence"], variant["assertion"],
                               variant["frequency"])  # fmt: skip
            if finding is None:  # not reported: benign, or a VUS outside the panel
                assert acmg in LEFT_OUT or (acmg is UNCERTAIN and variant["gene"] not in panel), key
                continue
            assert [e["code"] for e in finding["evidence"]] == codes, key
            assert finding["classification"] == acmg.value, key
            assert (finding["gene"], finding["consequence"], finding["zygosity"]) == (
                variant["gene"], variant["consequence"], variant["zygosity"]
            )  # fmt: skip
            assert finding["cohort_frequency"] == pytest.approx(variant["frequency"], abs=1e-6)
            if finding["classification"] == "Uncertain significance":
                assert finding["gene"] in panel, f"a VUS outside the panel was reported: {key}"
            checked[finding["classification"]] += 1
        assert set(reported) <= set(oracle), "a reported variant the case does not carry"
        # What was left out is counted, so the report accounts for every carried variant.
        assert len(reported) + sum(content["not_reported"].values()) == len(oracle)
        assert content["clinical"]["sex"] in {"male", "female"}
        assert 0 < content["clinical"]["age_at_diagnosis"] < 110
        assert "P0" not in json.dumps(content), "an internal participant id in a report"
    # The cohort's harmful assertions sit on rare variants (as in real databases), so some of
    # these twelve cases have a pathogenic or likely pathogenic finding, and most have VUSs.
    assert checked["Pathogenic"] + checked["Likely pathogenic"] > 0, checked
    assert checked["Uncertain significance"] and sum(checked.values()) >= 12, checked


def _tumour_oracle(world: World, participant: str) -> dict[str, tuple[str, str, str | None]]:
    """The tumour's calls, read by bcftools: variant key -> gene, consequence, protein."""
    fields = "%CHROM\t%POS\t%REF\t%ALT\t%GENE\t%CSQ\t%HGVSP\n"
    query = ["bcftools", "query", "-s", participant, "-i", 'GT="alt"', "-f", fields]
    text = subprocess.run([*query, str(tumours(world))], check=True, capture_output=True,
                          text=True).stdout  # fmt: skip
    calls = {}
    for line in text.splitlines():
        contig, pos, ref, alt, gene, csq, protein = line.split("\t")
        calls[f"{contig}-{pos}-{ref}-{alt}"] = (gene, csq, None if protein == "." else protein)
    return calls


def test_a_cancer_cases_report_holds_its_tumours_calls_in_tiers(reports_world: World) -> None:
    world = reports_world
    tiers: Counter[str] = Counter()
    cancers = [(r, p, d) for r, p, d in _cases_of(world) if d.startswith("C")][12:20]
    for ref, participant, diagnosis in cancers:
        generate(world.ctx("sam"), ref, somatic="somatic")
        content = cases.view(world.ctx("kenji"), ref).content
        oracle = _tumour_oracle(world, participant)
        somatic = {f["variant"]: f for f in content["findings"] if f["origin"] == "somatic"}
        expected = {key: tier(gene, csq, protein, diagnosis)[0]
                    for key, (gene, csq, protein) in oracle.items()}  # fmt: skip
        assert {k: f["classification"] for k, f in somatic.items()} == {
            k: t.value for k, t in expected.items() if t is not Tier.IV
        }, ref
        for key, finding in somatic.items():
            assert (finding["gene"], finding["consequence"], finding["protein"]) == oracle[key]
        left = sum(t is Tier.IV for t in expected.values())
        assert content["not_reported"].get("somatic Tier IV", 0) == left
        assert content["sources"]["somatic"] == "somatic@1"
        tiers.update(f["classification"] for f in somatic.values())
    assert tiers["Tier III"] and tiers["Tier I"] + tiers["Tier II"], tiers


def test_every_diagnosis_of_the_cohort_has_a_panel(reports_world: World) -> None:
    diagnoses = {d for _, _, d in _cases_of(reports_world)}
    assert diagnoses and all(panel_of(d)[1] for d in diagnoses), diagnoses - set(PANELS)


def _cli(world: World) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``wgs-tre ARGS`` as ``user``, in a process of its own, on the world's store."""

    def run(user: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = world.cli_env(user)
        return subprocess.run([sys.executable, "-m", "wgs_tre", *args], env=env, text=True,
                              capture_output=True, timeout=120)  # fmt: skip

    return run


def test_a_signed_off_report_exports_as_pdf_and_fhir_through_the_cli(
    reports_world: World, tmp_path: Path
) -> None:
    world = reports_world
    # A cancer case the tests above left without a report, with tumour calls in tiers I or II.
    ref = next(r for r, p, d in reversed(_cases_of(world)) if d.startswith("C")
               and any(tier(g, c, h, d)[0] in (Tier.I, Tier.II)
                       for g, c, h in _tumour_oracle(world, p).values()))  # fmt: skip
    cli = _cli(world)
    generated = cli(
        "sam", "reports", "generate", ref, "--clinical", "clinical", "--somatic", "somatic"
    )
    assert generated.returncode == 0, generated.stderr
    refused = cli("kenji", "reports", "export", ref, "--pdf", str(tmp_path / "early.pdf"))
    assert refused.returncode == 5 and f"cannot export report {ref}: it is " in refused.stderr
    assert not (tmp_path / "early.pdf").exists()
    assert cli("sam", "reports", "submit", ref).returncode == 0
    assert cli("kenji", "reports", "sign-off", ref, "--note", "agreed at the MDT").returncode == 0
    pdf, fhir = tmp_path / "report.pdf", tmp_path / "report.json"
    done = cli("kenji", "reports", "export", ref, "--pdf", str(pdf), "--fhir", str(fhir))
    assert done.returncode == 0, done.stderr
    document = cases.view(world.ctx("kenji"), ref)
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert f"case {ref}" in text and document.case.hospital_patient_id in text
    assert "Signed off by kenji" in text and "agreed at the MDT" in text
    for finding in document.content["findings"]:  # the variant table, row by row
        assert finding["hgvs"] in text and finding["classification"] in text
    assert any(f["origin"] == "somatic" for f in document.content["findings"])
    resource = json.loads(fhir.read_text())
    from fhir.resources.diagnosticreport import DiagnosticReport

    report = DiagnosticReport.model_validate(resource)
    assert (
        report.status == "final"
        and report.subject.identifier.value == document.case.hospital_patient_id
    )
    variants = [r for r in resource["contained"] if r["id"].startswith("variant-")]
    assert len(variants) == len(document.content["findings"])
    assert resource["presentedForm"][0]["contentType"] == "application/pdf"


def test_bad_requests_in_the_cli_say_what_is_wrong_and_change_nothing(reports_world: World) -> None:
    world, cli = reports_world, _cli(reports_world)
    signed = next(c.ref for c in cases.list_cases(world.ctx("kenji")) if c.state == "signed_off")
    before = world.counts()
    attempts = [
        (("kenji", "reports", "show", "C-NOPE00"), 3, "no case named 'C-NOPE00'"),
        (("kenji", "reports", "comment", signed, "one more thing"), 5,
         f"cannot comment report {signed}: it is signed_off; allowed from signed_off: export"),
        (("sam", "reports", "sign-off", signed), 4, "sam (steward) may not report.sign_off"),
        (("kenji", "reports", "generate", signed), 4, "(expert_panel) may not report.generate"),
        (("sam", "reports", "generate", "C-NOPE00"), 3, "no case named 'C-NOPE00'"),
    ]  # fmt: skip
    for args, code, message in attempts:
        done = cli(*args)
        assert (done.returncode, done.stdout) == (code, ""), done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    after = world.counts()
    assert after.pop("audit_event") == before.pop("audit_event") + len(attempts)  # refusals
    assert after == before
