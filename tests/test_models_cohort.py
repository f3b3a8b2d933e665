"""On a synthetic cohort with documented truth (``truth.json``), a Cox model fitted through the
governed path recovers what was put in: each true effect (the two causal survival variants,
age, stage) lies inside its 95% interval, and adding the genotypes improves cross-validated
concordance over the clinical covariates alone.

The generating model (``wgs_tre.synth.outcomes``): log hazard = 0.55 and 0.45 per alt allele
of the two survival variants + 0.3 per 10 years of age + 0.5 per ``max(stage - 1, 0)``
(non-cancers: no stage). The table encodes stage as ``stage`` (0 when none) and
``stage_missing``; the truth is then exactly ``0.5 * stage + 0.5 * stage_missing`` up to a
constant, so ``stage``'s coefficient is 0.5. Age in the table is the diagnosis year minus the
birth year, the synthetic age or one more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.world import World
from wgs_tre import models
from wgs_tre.consent import registry
from wgs_tre.ingest.fhir import ingest_fhir
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.policy import load_policies
from wgs_tre.project import open_project
from wgs_tre.store import Store
from wgs_tre.synth import GenotypeSpec, make_cohort

REPO = Path(__file__).resolve().parent.parent
SAMPLES, VARIANTS, SEED = 6_000, 2_000, 5  # about 4,000 consent; the genomics world's seed
FOLDS = 5


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("cohort")
    store = Store(f"sqlite:///{tmp / 'governance.db'}")
    store.upgrade()
    world = World.build(store, load_policies(REPO / "policies"), tmp)
    files = make_cohort(tmp / "cohort", GenotypeSpec(samples=SAMPLES, variants=VARIANTS, seed=SEED))
    ingest_vcf(world.ctx("sam"), files.vcf, "wgs", root=tmp / "datasets")
    ingest_fhir(world.ctx("sam"), files.fhir, "clinical", mapping=files.mapping,
                root=tmp / "datasets")  # fmt: skip
    registry.import_file(world.ctx("sam"), files.consent)
    world.approved("prognosis", datasets=["wgs", "clinical"])
    handle = open_project("prognosis", user="alice", settings=world.settings())
    return handle, orjson.loads(files.truth.read_bytes())


@pytest.fixture(scope="module")
def table(cohort: tuple[Any, dict[str, Any]]) -> models.AnalysisTable:
    handle, truth = cohort
    causal = [e for e in truth["effects"] if e["outcome"] == "survival"]
    specs = [f"{e['contig']}:{e['position']}:{e['ref']}:{e['alt']}" for e in causal]
    return models.analysis_table(handle, clinical=("age", "stage"), variants=specs)


def _truth(truth: dict[str, Any]) -> dict[str, float]:
    """True effect per table column, on the column's scale (age: per year)."""
    effects = {
        f"dosage_{e['contig']}_{e['position']}_{e['ref']}_{e['alt']}": e["effect"]
        for e in truth["effects"]
        if e["outcome"] == "survival"
    }
    survival = truth["survival"]
    return {"age": survival["age_per_10y"] / 10, "stage": survival["stage"], **effects}


def test_cox_95_intervals_cover_the_true_effects(
    cohort: tuple[Any, dict[str, Any]], table: models.AnalysisTable
) -> None:
    truth = _truth(cohort[1])
    assert len(truth) == 4 and table.provenance is not None
    assert table.provenance.participants > 3_500
    print(f"{table.provenance.participants} participants, {table.provenance.events} deaths")
    fit = models.cox(table)
    summary = fit.summary
    for column, effect in truth.items():
        low, high = summary.loc[column, ["lower_95", "upper_95"]]
        print(f"{column:>28}: true {effect:.3f}, 95% CI [{low:.3f}, {high:.3f}]")
        assert low <= effect <= high, column
        assert low > 0  # informative: a vacuous interval would cover anything
    # the unstaged (non-cancers) sit with stage 1 in the truth: stage_missing = stage's effect
    low, high = summary.loc["stage_missing", ["lower_95", "upper_95"]]
    assert low <= truth["stage"] <= high


def _cross_validated_concordance(table: models.AnalysisTable, features: list[str]) -> float:
    """Mean held-out concordance over the same stratified folds for every feature set."""
    # Rows in an order set by their values: pseudonym order changes with each project's key,
    # and the folds would with it.
    ordered = table.frame.sort_values([c for c in table.frame if c != "sample_id"], kind="stable")
    result = models.cross_validate(
        table.rows(ordered.index.to_numpy()), features, folds=FOLDS, seed=SEED
    )
    return float(result.mean["concordance"])


def test_genotypes_improve_cross_validated_concordance_over_clinical_alone(
    table: models.AnalysisTable,
) -> None:
    clinical = ["age", "stage", "stage_missing"]
    genomic = [f for f in table.features if f.startswith("dosage_")]
    assert len(genomic) == 2
    alone = _cross_validated_concordance(table, clinical)
    combined = _cross_validated_concordance(table, clinical + genomic)
    print(f"cross-validated concordance: clinical {alone:.4f}, clinical + genomic {combined:.4f}")
    assert 0.6 < alone < combined
