"""The Hail engine: the same governed view as a Hail MatrixTable, and Hail's own QC, regression
and PCA on it agree with wgs_tre's on Dask."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import hail as hl
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from tests.spark import SparkStandalone
from tests.world import World
from wgs_tre.consent import registry
from wgs_tre.errors import ConfigurationError, InvalidInput, Refused
from wgs_tre.genomics import gwas_linear, gwas_logistic, pca, sample_stats, variant_stats
from wgs_tre.genomics.hail import BED_TABLE, to_hail, write_plink
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.policy import load_policies
from wgs_tre.project import ProjectHandle, open_project
from wgs_tre.store import Store
from wgs_tre.synth import GenotypeSpec, make_cohort

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ProjectHandle:
    tmp = tmp_path_factory.mktemp("hail")
    policies = tmp / "policies"
    shutil.copytree(REPO / "policies", policies)
    (policies / "compute.yaml").write_text(
        "profiles:\n  dask: {kind: local}\n  spark: {kind: spark, master: 'local[2]'}\n"
    )
    store = Store(f"sqlite:///{tmp / 'governance.db'}")
    store.upgrade()
    world = World.build(store, load_policies(policies), tmp)
    cohort = make_cohort(tmp / "cohort", GenotypeSpec(samples=300, variants=4_000, seed=21))
    ingest_vcf(world.ctx("sam"), cohort.vcf, "wgs", root=tmp / "datasets")
    registry.import_file(world.ctx("sam"), cohort.consent)
    world.approved("hail-study", datasets=["wgs"])
    return open_project("hail-study", user="alice", settings=world.settings())


@pytest.fixture(scope="module")
def view(project: ProjectHandle) -> xr.Dataset:
    return project.variants()


@pytest.fixture(scope="module")
def mt(project: ProjectHandle) -> object:
    return project.variants(engine="hail")


def test_the_matrix_table_is_the_view(view: xr.Dataset, mt: object) -> None:
    entries = mt.select_entries(n=mt.GT.n_alt_alleles()).n.collect()  # type: ignore[attr-defined]
    dosage = view.call_genotype.values.sum(axis=2).astype(float)
    dosage[(view.call_genotype.values < 0).any(axis=2)] = np.nan
    np.testing.assert_array_equal(np.array(entries, dtype=float).reshape(dosage.shape), dosage)
    assert mt.s.collect() == [str(s) for s in view.sample_id.values]  # type: ignore[attr-defined]
    rows = mt.rows().to_pandas()  # type: ignore[attr-defined]
    assert [locus.position for locus in rows.locus] == list(view.variant_position.values)
    assert [a[0] for a in rows.alleles] == list(view.variant_allele.values[:, 0])
    for key in ("GENE", "CSQ", "CLNSIG"):  # one spelling: genomics.variant_table's columns
        assert list(rows[key].fillna("")) == list(view[f"variant_{key}"].values)
    assert hl.eval(mt.wgs_tre.project) == "hail-study"  # type: ignore[attr-defined]


def _public_resource(view: xr.Dataset, reference: str, rows: list[int]) -> object:
    """A small table keyed as public resources are (locus on a built-in reference, alleles):
    the view's ``rows`` scored by their index, and one locus the view does not have."""
    contigs = view.contig_id.values[view.variant_contig.values]
    positions, alleles = view.variant_position.values, view.variant_allele.values  # read once
    records = [
        {
            "locus": hl.Locus(str(contigs[i]), int(positions[i]), reference),
            "alleles": [str(a) for a in alleles[i, :2]],
            "score": float(i),
        }
        for i in rows
    ] + [{"locus": hl.Locus(str(contigs[0]), 1, reference), "alleles": ["A", "C"], "score": -1.0}]
    schema = hl.tstruct(locus=hl.tlocus(reference), alleles=hl.tarray(hl.tstr), score=hl.tfloat64)
    return hl.Table.parallelize(records, schema, key=["locus", "alleles"])  # fmt: skip


def test_loci_are_on_grch38_so_public_resources_join(view: xr.Dataset, mt: object) -> None:
    """The cohort's contigs (chr1, chr2) are GRCh38's and fit in it: rows are keyed by GRCh38
    loci and a GRCh38-keyed table joins them row for row."""
    assert [str(c) for c in view.contig_id.values] == ["chr1", "chr2"]
    assert mt.locus.dtype == hl.tlocus("GRCh38")  # type: ignore[attr-defined]
    chosen = [0, 7, 1_500, view.sizes["variants"] - 1]
    resource = _public_resource(view, "GRCh38", chosen)
    rows = mt.rows()  # type: ignore[attr-defined]
    joined = rows.annotate(score=resource[rows.key].score).to_pandas()
    assert joined.score.notna().sum() == len(chosen)
    assert list(joined.index[joined.score.notna()]) == chosen
    assert list(joined.score.dropna()) == [float(i) for i in chosen]


def test_contigs_that_do_not_fit_a_built_in_reference_get_their_own(view: xr.Dataset) -> None:
    """``1, 2`` are GRCh37's names; ``scaffold1`` is no built-in reference's, so the view keeps a
    reference of its own contigs (which public resources will not join)."""
    for names, expected in ((["1", "2"], "GRCh37"), (["scaffold1", "scaffold2"], None)):
        renamed = view.assign(contig_id=(view.contig_id.dims, np.array(names, dtype=object)))
        locus = to_hail(renamed, master="local[2]", progress=False).locus.dtype
        name = locus.reference_genome.name
        assert name == expected if expected else name.startswith("wgs_tre_"), name


def test_hail_qc_agrees_with_dask(view: xr.Dataset, mt: object) -> None:
    ours = variant_stats(view, hwe_midp=True, progress=False)  # Hail's HWE is the mid-p test
    theirs = hl.variant_qc(mt).rows().to_pandas()  # type: ignore[attr-defined]
    np.testing.assert_array_equal(theirs["variant_qc.n_het"], ours.variant_n_het)
    np.testing.assert_allclose(theirs["variant_qc.call_rate"], ours.variant_call_rate, rtol=1e-12)
    alt = np.array([af[1] if af is not None else np.nan for af in theirs["variant_qc.AF"]])
    np.testing.assert_allclose(alt, ours.variant_alt_allele_frequency, rtol=1e-12)
    np.testing.assert_allclose(
        theirs["variant_qc.p_value_hwe"].astype(float), ours.variant_hwe_p_value, rtol=1e-9
    )
    samples = sample_stats(view, progress=False)
    theirs_s = hl.sample_qc(mt).cols().to_pandas()  # type: ignore[attr-defined]
    np.testing.assert_allclose(theirs_s["sample_qc.call_rate"], samples.sample_call_rate)
    np.testing.assert_array_equal(theirs_s["sample_qc.n_het"], samples.sample_n_het)


def _phenotypes(view: xr.Dataset) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    n = view.sizes["samples"]
    age, sex = rng.normal(50, 10, n), rng.integers(0, 2, n).astype(float)
    trait = 0.02 * age + 0.3 * sex + rng.normal(0, 1, n)
    return pd.DataFrame(
        {"trait": trait, "case": (trait > np.median(trait)).astype(float), "age": age, "sex": sex},
        index=pd.Index([str(s) for s in view.sample_id.values], name="sample_id"),
    )


def test_hail_regressions_agree_with_dask(view: xr.Dataset, mt: object) -> None:
    frame = _phenotypes(view)
    table = hl.Table.from_pandas(frame.reset_index(), key="sample_id")
    mt = mt.annotate_cols(p=table[mt.s])  # type: ignore[attr-defined]
    x = hl.float64(mt.GT.n_alt_alleles())
    # hl.agg.linreg leaves out entries with a missing call, as ours and plink2 do; Hail's
    # linear_regression_rows would mean-impute them instead.
    fit = mt.annotate_rows(fit=hl.agg.linreg(mt.p.trait, [1.0, x, mt.p.age, mt.p.sex]))
    theirs = fit.rows().select("fit").to_pandas()
    ours = gwas_linear(view, frame[["trait"]], frame[["age", "sex"]], progress=False)
    tested = np.isfinite(ours.variant_linreg_p_value.values[:, 0])
    assert tested.sum() > 1000
    beta = np.array([b[1] if b is not None else np.nan for b in theirs["fit.beta"]])
    p = np.array([v[1] if v is not None else np.nan for v in theirs["fit.p_value"]])
    np.testing.assert_allclose(beta[tested], ours.variant_linreg_beta.values[tested, 0], rtol=1e-8)
    np.testing.assert_allclose(p[tested], ours.variant_linreg_p_value.values[tested, 0], rtol=1e-6)
    # Hail's logistic regression mean-imputes missing calls: compare where none are missing.
    # Hail stops Newton's method once steps are below 1e-6; ours iterates further.
    logistic = hl.logistic_regression_rows(
        "wald", y=mt.p.case, x=x, covariates=[1.0, mt.p.age, mt.p.sex]
    ).to_pandas()
    # Hail's Wald test has no Firth fallback: compare with ours without it.
    ours_log = gwas_logistic(
        view, frame["case"], frame[["age", "sex"]], firth="never", progress=False
    )
    complete = (view.call_genotype.values >= 0).all(axis=(1, 2)) & np.isfinite(
        ours_log.variant_logreg_p_value.values
    )
    assert complete.sum() > 100
    np.testing.assert_allclose(
        logistic.beta.values[complete],
        ours_log.variant_logreg_beta.values[complete],
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        logistic.p_value.values[complete], ours_log.variant_logreg_p_value.values[complete],
        rtol=1e-4,
    )  # fmt: skip


def test_hail_pca_agrees_with_dask(view: xr.Dataset, mt: object) -> None:
    ours = pca(view, 4, progress=False)
    used = hl.literal(set(np.flatnonzero(ours.variant_pca_used.values).tolist()))
    indexed = mt.add_row_index("i")  # type: ignore[attr-defined]
    chosen = indexed.filter_rows(used.contains(hl.int32(indexed.i)))
    eigenvalues, scores, _ = hl.hwe_normalized_pca(chosen.GT, k=4)
    # Both centre by the allele frequency, scale by sqrt(2p(1-p)), mean-impute missing calls
    # and divide by the number of variants: the same matrix. Hail's decomposition is exact;
    # ours is randomized, whose Ritz values are lower bounds: equal for the population split,
    # slightly low in the flat bulk beyond it.
    explained = ours.sample_pca_explained_variance.values
    assert explained[0] == pytest.approx(eigenvalues[0], rel=1e-5)
    assert np.all(explained[1:] <= np.array(eigenvalues[1:]) * (1 + 1e-9))
    np.testing.assert_allclose(explained[1:], eigenvalues[1:], rtol=0.03)
    theirs = np.array(scores.scores.collect())
    for k in range(1):  # the bulk's vectors are not identified; the split's is
        r = np.corrcoef(theirs[:, k], ours.sample_pca_projection.values[:, k])[0, 1]
        assert abs(r) > 0.999


def test_bed_codes_and_refusals(view: xr.Dataset, tmp_path: Path) -> None:
    # ALT counts 0, 1, 2, missing in one byte -> .bed codes 11, 10, 00, 01 (A1 = ALT).
    assert BED_TABLE[0b11_10_01_00] == 0b01_00_10_11
    with pytest.raises(Refused, match="governed views only"):
        write_plink(xr.Dataset(), tmp_path / "raw")
    bare = view.copy()
    bare.attrs = {}  # the same data without the gate's mark
    with pytest.raises(Refused, match="governed views only"):
        to_hail(bare, master="local[1]")
    assert not list(tmp_path.iterdir())


def test_engines_and_profiles_are_checked(project: ProjectHandle) -> None:
    with pytest.raises(InvalidInput, match="'spark' is not one of: xarray, hail"):
        project.variants(engine="spark")  # type: ignore[call-overload]
    with pytest.raises(InvalidInput, match="is a local profile, not Spark"):
        project.variants(engine="hail", compute="dask")
    empty = ProjectHandle(project.project, project.user, project.source, Path("/nonexistent"))
    with pytest.raises(ConfigurationError, match="needs a spark profile"):
        empty.variants(engine="hail")


ON_A_GIVEN_MASTER = """
import json, sys
import numpy as np
import hail as hl
from wgs_tre import open_project
from wgs_tre.genomics import variant_stats

project = open_project("hail-study", user="alice")
mt = project.variants(engine="hail", compute="cluster")
theirs = hl.variant_qc(mt).rows().variant_qc.collect()
ours = variant_stats(project.variants(), progress=False)
np.testing.assert_array_equal([r.n_called for r in theirs], ours.variant_n_called.values)
np.testing.assert_allclose([r.AF[1] for r in theirs], ours.variant_alt_allele_frequency.values,
                           rtol=1e-12)
context = hl.spark_context()
executors = context._jsc.sc().getExecutorMemoryStatus().size() - 1  # minus the driver
print(json.dumps({"master": context.master, "executors": executors, "variants": len(theirs)}))
"""


def test_hail_runs_on_a_given_spark_master(project: ProjectHandle, tmp_path: Path) -> None:
    """A ``spark://`` profile: Hail's work runs on a standalone cluster's executors (its own
    process, as Hail starts once per process)."""
    spark = SparkStandalone.start()
    try:
        policies = tmp_path / "policies"
        shutil.copytree(project.policy_dir, policies)
        (policies / "compute.yaml").write_text(
            f"profiles:\n  cluster: {{kind: spark, master: '{spark.master}', driver_memory: 1g}}\n"
        )
        env = {**os.environ, "WGS_TRE_DATA_DIR": str(project.policy_dir.parent),
               "WGS_TRE_POLICY_DIR": str(policies), "SPARK_LOCAL_IP": "127.0.0.1"}  # fmt: skip
        env.pop("WGS_TRE_DATABASE_URL", None)
        run = subprocess.run([sys.executable, "-c", ON_A_GIVEN_MASTER], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        answer = json.loads(run.stdout.strip().splitlines()[-1])
        assert answer["master"] == spark.master and answer["executors"] >= 1
        assert answer["variants"] == project.variants().sizes["variants"]
        apps = spark.status()["completedapps"]
        assert isinstance(apps, list) and [app["name"] for app in apps] == ["Hail"]
    finally:
        spark.stop()
