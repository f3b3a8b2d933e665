"""Firth-penalised logistic regression against plink2, on a cohort where the plain fit fails.

Rare variants and a case status with 30% cases: for about a third of the variants the alternate
(or reference) allele is absent from the cases or from the controls, so plain maximum
likelihood has no finite estimate. plink2's default (``--glm``, i.e. ``firth-fallback``) then
reports Firth's penalised estimate and marks the row ``FIRTH?`` = Y; ``--glm firth`` uses Firth
for every variant. The view comes through the real path (ingest, consents, the gate) with about
2% of calls missing, which each variant's model leaves out; plink2 reads a VCF written from the
view's ``call_genotype``.

plink2 2.00a3.5 fits Firth in single precision and stops once its steps are below 1e-4 (or
1e-3 when rounding keeps the penalised likelihood from rising): its betas are off the optimum by
up to 0.2% of their standard error (measured over 46 random phenotypes), so a beta near zero
agrees within that rather than within 1e-3 of itself (93-99% of betas do). The exact oracle is
the maximum of Firth's penalised likelihood found by scipy's BFGS in double precision.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import optimize

from tests.plink import plink2, table, write_vcf
from tests.world import World
from wgs_tre.consent import registry
from wgs_tre.errors import InvalidInput
from wgs_tre.genomics import gwas_logistic
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.policy import load_policies
from wgs_tre.project import open_project
from wgs_tre.store import Store
from wgs_tre.synth import GenotypeSpec, make_cohort

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    tmp = tmp_path_factory.mktemp("firth")
    store = Store(f"sqlite:///{tmp / 'governance.db'}")
    store.upgrade()
    world = World.build(store, load_policies(REPO / "policies"), tmp)
    spec = GenotypeSpec(samples=400, variants=3_000, seed=13, missing_rate=0.02)
    cohort = make_cohort(tmp / "cohort", spec)
    ingest_vcf(world.ctx("sam"), cohort.vcf, "wgs", root=tmp / "datasets")
    registry.import_file(world.ctx("sam"), cohort.consent)
    world.approved("rare-study", datasets=["wgs"])
    return open_project("rare-study", user="alice", settings=world.settings()).variants()


@pytest.fixture(scope="module")
def frame(view: xr.Dataset) -> pd.DataFrame:
    """Case status from age, sex and a common variant, and every carrier of a rare variant
    (18-30 carriers) a case: separation, and a Firth hit plink2 finds too. (Samples come in
    the order of their per-project pseudonyms, which differ from run to run.)"""
    rng = np.random.default_rng(7)
    ids = [str(s) for s in view.sample_id.values]
    dosage = np.clip(view.call_genotype.values.sum(axis=2), 0, None)  # missing as 0 here
    frequencies = dosage.mean(axis=1) / 2
    carriers = (dosage > 0).sum(axis=1)
    common = int(np.flatnonzero((frequencies > 0.2) & (frequencies < 0.8))[0])
    rare = int(np.flatnonzero((carriers >= 18) & (carriers <= 30))[0])
    age = rng.normal(55, 12, len(ids))
    sex = rng.integers(0, 2, len(ids)).astype(float)
    liability = 0.04 * (age - 55) + 0.5 * sex + 0.8 * dosage[common] + rng.logistic(size=len(ids))
    case = ((liability > np.quantile(liability, 0.72)) | (dosage[rare] > 0)).astype(float)
    return pd.DataFrame({"case": case, "age": age, "sex": sex}, index=pd.Index(ids)).assign(
        rare=rare
    )


@pytest.fixture(scope="module")
def oracle(view: xr.Dataset, frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """plink2's default (firth-fallback) and ``--glm firth`` tables for the case status."""
    tmp = tmp_path_factory.mktemp("plink")
    write_vcf(view, tmp / "view.vcf")
    out = frame.rename_axis("#IID").reset_index()
    out["case"] = out["case"] + 1  # plink2: 1 control, 2 case
    out[["#IID", "case"]].to_csv(tmp / "pheno.tsv", sep="\t", index=False)
    out[["#IID", "age", "sex"]].to_csv(tmp / "covar.tsv", sep="\t", index=False)
    plink2("--vcf", "view.vcf", "--make-pgen", "--out", "view", cwd=tmp)
    for mode, name in (([], "fallback"), (["firth"], "always")):
        plink2("--pfile", "view", "--pheno", "pheno.tsv", "--covar", "covar.tsv",
               "--glm", "hide-covar", *mode, "--out", name, cwd=tmp)  # fmt: skip
    return tmp


def _agree_with_plink2(ours: xr.Dataset, theirs: pd.DataFrame) -> np.ndarray:
    """Ours converged exactly where plink2 reports a result, and there: beta within 1e-3
    relative (or 1% of its standard error, plink2's resolution), -log10 p within 1e-2, the
    standard error within 5e-3 relative. Returns the indices of the variants compared."""
    assert list(theirs.index) == [f"v{i}" for i in range(ours.sizes["variants"])]
    tested = theirs.P.notna().to_numpy()
    np.testing.assert_array_equal(ours.variant_logreg_converged.values, tested)
    index = np.flatnonzero(tested)
    rows = theirs.iloc[index]
    # plink2 counts the minor allele (A1); ours is always ALT: the sign flips where A1 is REF.
    sign = np.where(rows.A1 == rows.ALT, 1.0, -1.0)
    beta, se = sign * np.log(rows.OR.to_numpy()), rows["LOG(OR)_SE"].to_numpy()
    ours_beta = ours.variant_logreg_beta.values[index]
    np.testing.assert_array_less(np.abs(ours_beta - beta), 1e-3 * np.abs(beta) + 1e-2 * se)
    ours_p = ours.variant_logreg_p_value.values[index]
    np.testing.assert_allclose(-np.log10(ours_p), -np.log10(rows.P), rtol=0, atol=1e-2)
    np.testing.assert_allclose(ours.variant_logreg_standard_error.values[index], se, rtol=5e-3)
    np.testing.assert_array_equal(ours.variant_logreg_n_obs.values[index], rows.OBS_CT)
    return index


def test_firth_fallback_matches_plink2s_default(
    view: xr.Dataset, frame: pd.DataFrame, oracle: Path
) -> None:
    theirs = table(oracle / "fallback.case.glm.logistic.hybrid").set_index("ID")
    ours = gwas_logistic(view, frame["case"], frame[["age", "sex"]], progress=False)
    _agree_with_plink2(ours, theirs)
    # Firth exactly where plink2 fell back to it: a third of the variants, not a corner case.
    firth = ours.variant_logreg_firth.values
    np.testing.assert_array_equal(firth, theirs["FIRTH?"].to_numpy() == "Y")
    assert 500 < firth.sum() < 0.5 * len(firth)
    # Without the fallback those variants have no estimate; the others are the same fits.
    plain = gwas_logistic(view, frame["case"], frame[["age", "sex"]], firth="never",
                          progress=False)  # fmt: skip
    assert not plain.variant_logreg_converged.values[firth].any()
    assert not plain.variant_logreg_firth.values.any()
    for name in ("variant_logreg_beta", "variant_logreg_standard_error", "variant_logreg_p_value"):
        np.testing.assert_array_equal(ours[name].values[~firth], plain[name].values[~firth])
    # The rare variant whose carriers are all cases is a Firth hit, with a finite odds ratio.
    rare = int(frame.rare.iloc[0])
    assert firth[rare] and ours.variant_logreg_p_value.values[rare] < 0.01
    assert 2 < ours.variant_logreg_beta.values[rare] < 10
    assert ours.variant_logreg_beta.values[rare] == pytest.approx(
        np.log(theirs.iloc[rare].OR), rel=1e-3
    )


def test_firth_for_every_variant_matches_plink2_glm_firth(
    view: xr.Dataset, frame: pd.DataFrame, oracle: Path
) -> None:
    theirs = table(oracle / "always.case.glm.firth").set_index("ID")
    ours = gwas_logistic(view, frame["case"], frame[["age", "sex"]], firth="always",
                         progress=False)  # fmt: skip
    index = _agree_with_plink2(ours, theirs)
    assert len(index) > 2_000
    assert ours.variant_logreg_firth.values[index].all()
    # The exact oracle, on every 13th variant (~200 fits) to keep the test quick.
    dosage = view.call_genotype.values.sum(axis=2)
    called = (view.call_genotype.values >= 0).all(axis=2)
    covariates = frame[["age", "sex"]].to_numpy()
    for v in index[::13]:
        keep = called[v]
        design = np.column_stack([np.ones(keep.sum()), covariates[keep], dosage[v, keep]])
        beta, se = _firth_maximum(design, frame["case"].to_numpy()[keep])
        assert ours.variant_logreg_beta.values[v] == pytest.approx(beta, rel=1e-5, abs=1e-5)
        assert ours.variant_logreg_standard_error.values[v] == pytest.approx(se, rel=1e-5)


def _firth_maximum(design: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """The last coefficient where Firth's penalised log-likelihood l + log|X'WX| / 2 is
    largest, by BFGS with its gradient, the modified score X'(y - p + h (1/2 - p)); and its
    standard error from (X'WX)^-1 there. (Covariates are standardised first, which changes
    neither.)"""
    covariates = design[:, 1:-1] - design[:, 1:-1].mean(axis=0)
    covariates /= covariates.std(axis=0)
    design = np.column_stack([design[:, 0], covariates, design[:, -1]])

    def fisher(beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = 1 / (1 + np.exp(-design @ beta))
        return p, design.T @ (design * (p * (1 - p))[:, None])

    def minus_penalised(beta: np.ndarray) -> float:
        p, information = fisher(beta)
        loglik = np.sum(np.where(y > 0, np.log(p), np.log1p(-p)))
        return -(loglik + 0.5 * np.linalg.slogdet(information)[1])

    def minus_score(beta: np.ndarray) -> np.ndarray:
        p, information = fisher(beta)
        h = p * (1 - p) * np.einsum("ij,jk,ik->i", design, np.linalg.inv(information), design)
        return -design.T @ (y - p + h * (0.5 - p))

    start = np.zeros(design.shape[1])
    best = optimize.minimize(minus_penalised, start, jac=minus_score, method="BFGS",
                             options={"gtol": 1e-10})  # fmt: skip
    # BFGS may stop where rounding keeps it from improving: close enough if a Newton step from
    # there is below 1e-6.
    _, information = fisher(best.x)
    assert np.abs(np.linalg.solve(information, minus_score(best.x))).max() < 1e-6
    return best.x[-1], np.sqrt(np.linalg.inv(information)[-1, -1])


def test_firth_does_not_depend_on_covariate_units(view: xr.Dataset, frame: pd.DataFrame) -> None:
    """A birth year instead of an age, as the README's example uses: the same estimates."""
    ages = frame[["age", "sex"]]
    years = ages.assign(age=2024 - ages.age)
    by_age = gwas_logistic(view, frame["case"], ages, firth="always", progress=False)
    by_year = gwas_logistic(view, frame["case"], years, firth="always", progress=False)
    converged = by_age.variant_logreg_converged.values
    np.testing.assert_array_equal(by_year.variant_logreg_converged.values, converged)
    assert converged.sum() > 2_000
    # Equal within Firth's convergence (steps below 1e-6), rounding taking other paths.
    for name in ("variant_logreg_beta", "variant_logreg_standard_error"):
        np.testing.assert_allclose(
            by_year[name].values[converged], by_age[name].values[converged], rtol=0, atol=1e-5
        )


def test_firth_option_is_one_of_three(view: xr.Dataset, frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="name one of: fallback, always, never"):
        gwas_logistic(view, frame["case"], firth="sometimes", progress=False)
