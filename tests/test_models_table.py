"""``wgs_tre.models.analysis_table`` on the governed genomics world (400 samples, consents
withheld by some), checked against the raw synthetic cohort read independently: the FHIR
bundles (orjson), the VCF (cyvcf2), the consent file, mapped through the project's pseudonym
key read from the store."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from cyvcf2 import VCF  # type: ignore[import-untyped]
from sqlalchemy import select

from tests.test_access import expected_consented
from tests.world import World
from wgs_tre import models
from wgs_tre.access import pseudonym
from wgs_tre.errors import InvalidInput
from wgs_tre.project import open_project
from wgs_tre.store.models import AuditEvent, Project, ProjectKey

PROJECT = "gwas-study"
DAMAGING = set(models.genomic_features.DAMAGING_CONSEQUENCES)


@pytest.fixture(scope="module")
def handle(genomics_world: World) -> Any:
    return open_project(PROJECT, user="alice", settings=genomics_world.settings())


@pytest.fixture(scope="module")
def participant_of(genomics_world: World, handle: Any) -> dict[str, str]:
    """pseudonym -> participant id, for the consenting participants (independent of views)."""
    handle.clinical("patients")  # the project's key is made at its first dispensal
    with genomics_world.store.session() as session:
        project = session.scalar(select(Project).where(Project.slug == PROJECT))
        key = session.get(ProjectKey, project.id).key  # type: ignore[union-attr]
    consent = genomics_world.tmp / "cohort" / "consent" / "consent.ndjson"
    return {pseudonym(key, p): p for p in expected_consented(consent, commercial=False)}


@pytest.fixture(scope="module")
def fhir(genomics_world: World) -> pd.DataFrame:
    """Per participant, straight from the hospitals' bundles: birth and diagnosis years, sex,
    stage, BMI, smoking code, distinct medications, days followed and death."""
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: {"medications": set()})
    for bundle in sorted((genomics_world.tmp / "cohort" / "fhir").glob("*.json")):
        for entry in orjson.loads(bundle.read_bytes())["entry"]:
            r = entry["resource"]
            kind = r["resourceType"]
            pid = r["id"] if kind == "Patient" else r.get("subject", {}).get("reference", "/")
            row = rows[pid.split("/")[-1]]
            if kind == "Patient":
                row.update(sex=r["gender"], born=int(r["birthDate"][:4]),
                           died=r.get("deceasedDateTime"))  # fmt: skip
            elif (
                kind == "Condition"
                and r["category"][0]["coding"][0]["code"] == "encounter-diagnosis"
            ):
                row.update(diagnosed=r["onsetDateTime"], icd10=r["code"]["coding"][0]["code"])
            elif kind == "Observation":
                code = r["code"]["coding"][0]["code"]
                if code == "21908-9":
                    row["stage"] = r["valueInteger"]
                elif code == "39156-5":
                    row["bmi"] = r["valueQuantity"]["value"]
                elif code == "72166-2":
                    row["smoking"] = r["valueCodeableConcept"]["coding"][0]["code"]
                elif code == "last-contact":
                    row["last"] = r["valueDateTime"]
            elif kind == "MedicationStatement":
                row["medications"].add(r["medicationCodeableConcept"]["coding"][0]["code"])
    frame = pd.DataFrame.from_dict(rows, orient="index")
    end = frame["died"].fillna(frame["last"]).map(dt.date.fromisoformat)
    frame["days"] = [
        (e - dt.date.fromisoformat(d)).days for e, d in zip(end, frame["diagnosed"], strict=True)
    ]
    frame["age"] = frame["diagnosed"].str[:4].astype(int) - frame["born"]
    return frame


@pytest.fixture(scope="module")
def vcf_calls(genomics_world: World, participant_of: dict[str, str]) -> dict[str, Any]:
    """The raw VCF by cyvcf2: per variant key, INFO and the consenting samples' alt counts
    (NaN where either allele is missing), samples in the order of ``ids``."""
    vcf = VCF(str(genomics_world.tmp / "cohort" / "genotypes" / "cohort.vcf.gz"))
    wanted = set(participant_of.values())
    columns = [i for i, s in enumerate(vcf.samples) if s in wanted]
    ids = [vcf.samples[i] for i in columns]
    out: dict[str, Any] = {"ids": ids, "variants": {}}
    for v in vcf:
        gt = v.genotype.array()[columns, :2].astype(float)
        dosage = np.where((gt < 0).any(axis=1), np.nan, gt.sum(axis=1))
        info = {k: v.INFO.get(k) for k in ("GENE", "CSQ", "CLNSIG")}
        out["variants"][(v.CHROM, v.POS, v.REF, v.ALT[0])] = (dosage, info)
    return out


@pytest.fixture(scope="module")
def table(handle: Any, vcf_calls: dict[str, Any], tmp_path_factory: Any) -> Any:
    return models.analysis_table(handle, variants=_chosen(vcf_calls), burden=["BRCA1", "TP53"],
                                 genes=["BRCA1"], pcs=2)  # fmt: skip


def _chosen(vcf_calls: dict[str, Any]) -> list[str]:
    """Three common variants with a missing call among the consenting samples."""
    found = []
    for (c, p, r, a), (dosage, _) in vcf_calls["variants"].items():
        if 0.1 < np.nanmean(dosage) / 2 < 0.5 and np.isnan(dosage).any():
            found.append(f"{c}:{p}:{r}:{a}")
    return found[:: max(len(found) // 3, 1)][:3]


def _by_participant(table: Any, participant_of: dict[str, str]) -> pd.DataFrame:
    return table.frame.set_index(table.frame["sample_id"].map(participant_of))


def test_rows_are_the_consenting_participants_under_their_pseudonyms_with_provenance(
    table: Any, participant_of: dict[str, str]
) -> None:
    assert set(table.frame["sample_id"]) == set(participant_of)
    read = table.provenance
    assert (read.project, read.datasets, read.participants, read.events) == (
        PROJECT, ("clinical@1", "wgs@1"), len(participant_of), int(table.frame["event"].sum())
    )  # fmt: skip
    assert read.read_at <= dt.datetime.now(dt.UTC)
    assert table.frame["sample_id"].is_monotonic_increasing


def test_no_column_holds_a_date_or_an_identifier_other_than_sample_id(table: Any) -> None:
    frame = table.frame
    assert list(frame.columns[:3]) == ["sample_id", "time", "event"]
    for column in frame.columns[1:]:
        assert pd.api.types.is_numeric_dtype(frame[column]) or frame[column].dtype == bool
    assert (
        not frame.drop(columns="sample_id")
        .astype(str)
        .apply(lambda c: c.str.match(r"^s[a-z2-7]{24}$|^P\d{6}$|^\d{4}-\d{2}-\d{2}"))
        .any()
        .any()
    )
    assert set(table.features) == set(frame.columns) - {"sample_id", "time", "event"}


def test_clinical_covariates_and_outcome_match_the_fhir_bundles(
    handle: Any, table: Any, participant_of: dict[str, str], fhir: pd.DataFrame
) -> None:
    got = _by_participant(table, participant_of)
    want = fhir.loc[got.index]
    np.testing.assert_array_equal(got["age"], want["age"])
    np.testing.assert_array_equal(got["time"], want["days"])
    np.testing.assert_array_equal(got["event"], want["died"].notna())
    np.testing.assert_array_equal(got["sex_male"], want["sex"] == "male")
    np.testing.assert_array_equal(got["stage"], want["stage"].fillna(0))
    np.testing.assert_array_equal(got["bmi"], want["bmi"])
    np.testing.assert_array_equal(got["smoking_current"], want["smoking"] == "77176002")
    np.testing.assert_array_equal(got["treatment_lines"], want["medications"].map(len))
    np.testing.assert_array_equal(got["diagnosis_lung"], want["icd10"] == "C34")
    assert "stage_missing" not in got  # collinear with the diagnosis groups: left out
    alone = models.analysis_table(handle, clinical=("stage",))
    assert alone.features == ("stage", "stage_missing")
    unstaged = _by_participant(alone, participant_of)["stage_missing"]
    np.testing.assert_array_equal(unstaged, fhir.loc[unstaged.index, "stage"].isna())


def test_dosage_columns_are_the_vcf_alt_counts_missing_calls_at_the_variant_mean(
    table: Any, participant_of: dict[str, str], vcf_calls: dict[str, Any]
) -> None:
    chosen = _chosen(vcf_calls)
    assert len(chosen) == 3
    got = _by_participant(table, participant_of).loc[vcf_calls["ids"]]
    for spec in chosen:
        contig, position, ref, alt = spec.split(":")
        dosage, _ = vcf_calls["variants"][(contig, int(position), ref, alt)]
        want = np.where(np.isnan(dosage), np.nanmean(dosage), dosage)
        np.testing.assert_allclose(got[f"dosage_{contig}_{position}_{ref}_{alt}"], want)


def _damaging_frequencies(vcf_calls: dict[str, Any], gene: str) -> list[float]:
    return [
        float(np.nansum(d) / (2 * (~np.isnan(d)).sum()))
        for d, info in vcf_calls["variants"].values()
        if info["GENE"] == gene and info["CSQ"] in DAMAGING
    ]


def _rare_damaging(vcf_calls: dict[str, Any], gene: str, cut: float = 0.01) -> np.ndarray:
    """Per consenting sample, how many of ``gene``'s damaging variants (CSQ or ClinVar) with
    alt frequency <= ``cut`` among them it carries an alt allele of: counted from the VCF."""
    count = np.zeros(len(vcf_calls["ids"]))
    for dosage, info in vcf_calls["variants"].values():
        if info["GENE"] != gene:
            continue
        harmful = info["CSQ"] in DAMAGING or info["CLNSIG"] in ("Pathogenic", "Likely_pathogenic")
        if harmful and np.nansum(dosage) / (2 * (~np.isnan(dosage)).sum()) <= cut:
            count += np.nan_to_num(dosage) > 0
    return count


def test_burden_and_carrier_status_match_a_count_from_the_vcf_annotations(
    table: Any, participant_of: dict[str, str], vcf_calls: dict[str, Any]
) -> None:
    got = _by_participant(table, participant_of).loc[vcf_calls["ids"]]
    for gene in ("BRCA1", "TP53"):
        want = _rare_damaging(vcf_calls, gene)
        assert want.sum() > 0
        np.testing.assert_array_equal(got[f"burden_{gene}"], want)
    np.testing.assert_array_equal(got["carrier_BRCA1"], _rare_damaging(vcf_calls, "BRCA1") > 0)


def test_the_frequency_cut_keeps_a_variant_exactly_at_it(
    handle: Any, participant_of: dict[str, str], vcf_calls: dict[str, Any]
) -> None:
    cut = sorted(f for f in _damaging_frequencies(vcf_calls, "BRCA1") if 0.02 < f < 0.2)[0]
    wider = models.analysis_table(handle, clinical=(), burden=["BRCA1"], max_frequency=cut)
    got = _by_participant(wider, participant_of).loc[vcf_calls["ids"], "burden_BRCA1"]
    want = _rare_damaging(vcf_calls, "BRCA1", cut)
    assert (want > _rare_damaging(vcf_calls, "BRCA1")).any()  # the cut admits more variants
    np.testing.assert_array_equal(got, want)


def test_principal_components_separate_the_two_simulated_populations(
    genomics_world: World, table: Any, participant_of: dict[str, str]
) -> None:
    truth = orjson.loads((genomics_world.tmp / "cohort" / "truth.json").read_bytes())
    got = _by_participant(table, participant_of)
    population_b = got.index.isin(truth["population_b"])
    pc1 = got["pc1"].to_numpy()
    assert abs(np.corrcoef(pc1, population_b)[0, 1]) > 0.9


def test_polygenic_score_is_the_weighted_sum_with_flipped_alleles_and_unmatched_reported(
    handle: Any, participant_of: dict[str, str], vcf_calls: dict[str, Any], tmp_path: Path
) -> None:
    (a, b, c) = [s.split(":") for s in _chosen(vcf_calls)]
    weights = tmp_path / "weights.tsv"
    weights.write_text(
        "contig\tposition\tref\talt\tweight\n"
        f"{a[0]}\t{a[1]}\t{a[2]}\t{a[3]}\t0.5\n"
        f"{b[0].removeprefix('chr')}\t{b[1]}\t{b[3]}\t{b[2]}\t-1.25\n"  # swapped, no chr
        f"{c[0]}\t{c[1]}\t{c[2]}\t{c[3]}\t2\n"
        "chr9\t123\tA\tT\t7\n"  # not in the view
    )
    with pytest.warns(UserWarning, match="1 of 4 weights matched no variant"):
        scored = models.analysis_table(handle, clinical=(), score=weights)
    assert scored.features == ("prs",)
    assert scored.frame.attrs["polygenic_score"] == {
        "weights": 4, "matched": 3, "flipped": 1, "unmatched": 1,
    }  # fmt: skip
    got = _by_participant(scored, participant_of).loc[vcf_calls["ids"], "prs"]

    def alt(spec: list[str]) -> np.ndarray:
        dosage: np.ndarray = vcf_calls["variants"][(spec[0], int(spec[1]), spec[2], spec[3])][0]
        return np.where(np.isnan(dosage), np.nanmean(dosage), dosage)

    want = 0.5 * alt(a) - 1.25 * (2 - alt(b)) + 2 * alt(c)
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize(
    ("arguments", "where", "what"),
    [
        ({"clinical": ("age", "height")}, "clinical covariate 'height'",
         "is not one of: age, sex, stage, diagnosis, bmi, smoking, treatment_lines"),
        ({"variants": ["chr1:1:A:G"]}, "variant 'chr1:1:A:G'", "is not in the variants view"),
        ({"variants": ["chr1-1-A-G"]}, "variant 'chr1-1-A-G'", "contig:position:ref:alt"),
        ({"genes": ["NOTAGENE"]}, "gene 'NOTAGENE'", "has no variants"),
        ({"burden": ["BRCA1"], "max_frequency": 0.0}, "gene 'BRCA1'", "has no damaging variant"),
        ({"pcs": 10_000}, "pca k", "components"),
        ({"outcome": "relapse"}, "outcome 'relapse'", "overall_survival"),
        ({"variants_dataset": "other", "pcs": 2}, "variants dataset", "approved: wgs@1"),
    ],
)  # fmt: skip
def test_bad_requests_name_the_problem(
    handle: Any, arguments: dict[str, Any], where: str, what: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        models.analysis_table(handle, **arguments)
    assert where in caught.value.where and what in caught.value.problem


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("", "weights.csv", "is empty"),
        ("contig,position,ref,alt\n", "line 1", "missing column(s) weight"),
        ("contig,position,ref,alt,weight\nchr1,12x,A,G,1\n", "line 2 column position", "12x"),
        ("contig,position,ref,alt,weight\nchr1,5,A,G,1\nchr1,6,A,G,inf\n",
         "line 3 column weight", "not a finite number"),
        ("contig,position,ref,alt,weight\nchr1,5,A,G\n", "line 2", "4 fields"),
        ("contig,position,ref,alt,weight\n", "weights.csv", "no weights"),
        ("contig,position,ref,alt,weight\nchr9,5,A,G,1\n", "weights.csv", "none of its 1"),
    ],
)  # fmt: skip
def test_a_bad_weights_file_is_refused_naming_the_line_and_column(
    handle: Any, tmp_path: Path, text: str, where: str, what: str
) -> None:
    path = tmp_path / "weights.csv"
    path.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        models.analysis_table(handle, clinical=(), score=path)
    assert where in caught.value.where and what in caught.value.problem


def test_only_the_requested_variants_are_read(handle: Any, vcf_calls: dict[str, Any]) -> None:
    """Two variants cost the chunks that hold them, not the matrix: the view's packed
    dosages, cut in chunks of 500 variants, count the rows computed; its genotypes refuse to
    be computed at all."""
    view = handle.variants()
    rows: list[int] = []

    def watched(block: np.ndarray) -> np.ndarray:
        rows.append(block.shape[0])
        return block

    def refused(block: np.ndarray) -> np.ndarray:
        raise AssertionError("call_genotype was computed")

    packed = view.call_dosage_packed.data.rechunk({0: 500}).map_blocks(watched, dtype=np.uint8)
    view["call_dosage_packed"] = (("variants", "samples_packed"), packed)
    view["call_genotype"] = view.call_genotype.copy(
        data=view.call_genotype.data.map_blocks(refused, dtype=np.int8)
    )

    class Watched:
        project = PROJECT

        def datasets(self) -> list[tuple[str, str]]:
            return handle.datasets()  # type: ignore[no-any-return]

        def variants(self, dataset: str | None = None) -> Any:
            return view

        def clinical(self, table: str, dataset: str | None = None) -> pd.DataFrame:
            frame: pd.DataFrame = handle.clinical(table, dataset)
            return frame

    models.analysis_table(Watched(), clinical=(), variants=_chosen(vcf_calls)[:2])
    assert 0 < sum(rows) <= 2 * 500 < view.sizes["variants"]


def test_the_default_covariates_fit_and_each_fit_is_recorded_once(handle: Any) -> None:
    """The default clinical set is not collinear (lifelines fits it), and ``on_fit`` (the
    audit hook the registry wires) hears of the fit once, without a row or a pseudonym."""
    records: list[models.FitRecord] = []
    defaults = models.analysis_table(handle, on_fit=records.append)
    assert "stage_missing" not in defaults.features and "diagnosis_lung" in defaults.features
    fit = models.cox(defaults)
    assert np.isfinite(fit.summary["se"]).all()
    assert len(records) == 1
    record = records[0]
    assert (record.model, record.features) == ("cox", defaults.features)
    assert (record.participants, record.events) == (len(defaults), defaults.events)
    assert not any(s in repr(record) for s in defaults.frame["sample_id"])


def test_a_fit_on_a_projects_table_is_audited_by_default(handle: Any) -> None:
    """Without ``on_fit``, a table built from ``open_project()`` audits each fit (model.fit,
    by the handle's user on its project, counts only)."""
    table = models.analysis_table(handle, clinical=("age", "stage"))
    models.cox(table)
    store = handle.host_governance()[0].store
    with store.session() as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        assert (event.action, event.actor, event.project) == (
            "model.fit",
            handle.user,
            handle.project,
        )
        details = json.loads(event.details)
    assert (details["rows"], details["events"]) == (len(table), table.events)
    assert details["features"] == list(table.features)
    assert not any(s in event.details for s in table.frame["sample_id"])
