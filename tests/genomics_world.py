"""The governed cohort the genomics tests share (``tests/test_genomics.py``,
``tests/test_genomics_outputs.py``; built once a run by the ``genomics_world``, ``view`` and
``oracle`` fixtures of ``tests/conftest.py``), plink2's copy of a view, and the phenotypes the
association tests fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from tests.plink import plink2, write_vcf
from tests.world import World
from wgs_tre.consent import registry
from wgs_tre.ingest.fhir import ingest_fhir
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.policy import load_policies
from wgs_tre.store import Store
from wgs_tre.synth import GenotypeSpec, make_cohort

REPO = Path(__file__).resolve().parent.parent


def build_world(tmp: Path) -> World:
    """400 samples x 6,000 variants and their clinical records, ingested with consents
    (some withheld), and gwas-study approved for both datasets."""
    store = Store(f"sqlite:///{tmp / 'governance.db'}")
    store.upgrade()
    world = World.build(store, load_policies(REPO / "policies"), tmp)
    cohort = make_cohort(tmp / "cohort", GenotypeSpec(samples=400, variants=6_000, seed=5))
    ingest_vcf(world.ctx("sam"), cohort.vcf, "wgs", root=tmp / "datasets")
    ingest_fhir(world.ctx("sam"), cohort.fhir, "clinical", mapping=cohort.mapping,
                root=tmp / "datasets")  # fmt: skip
    registry.import_file(world.ctx("sam"), cohort.consent)
    world.approved("gwas-study", datasets=["wgs", "clinical"])
    return world


def plink2_pgen(view: xr.Dataset, tmp: Path) -> Path:
    """plink2's pgen of ``view`` (``tmp/view.*``), written from a VCF of its call_genotype."""
    write_vcf(view, tmp / "view.vcf")
    plink2("--vcf", "view.vcf", "--make-pgen", "--out", "view", cwd=tmp)
    return tmp


def phenotypes(view: xr.Dataset, seed: int = 3) -> pd.DataFrame:
    """A trait with a true effect of a common variant and of two covariates, and a case
    status drawn from it."""
    rng = np.random.default_rng(seed)
    ids = [str(s) for s in view.sample_id.values]
    dosage = np.clip(view.call_genotype.values.sum(axis=2), 0, None)  # missing as 0 here
    frequencies = dosage.mean(axis=1) / 2
    causal = int(np.flatnonzero((frequencies > 0.2) & (frequencies < 0.8))[0])
    age = rng.normal(55, 12, len(ids))
    sex = rng.integers(0, 2, len(ids)).astype(float)
    trait = 0.6 * dosage[causal] + 0.03 * age + 0.5 * sex + rng.normal(0, 1, len(ids))
    case = (trait > np.median(trait)).astype(float)
    return pd.DataFrame(
        {"trait": trait, "case": case, "age": age, "sex": sex}, index=pd.Index(ids)
    ).assign(causal=causal)


def write_phenotypes(frame: pd.DataFrame, oracle: Path) -> None:
    out = frame.rename_axis("#IID").reset_index()
    out["case"] = out["case"] + 1  # plink2: 1 control, 2 case
    out[["#IID", "trait", "case"]].to_csv(oracle / "pheno.tsv", sep="\t", index=False)
    out[["#IID", "age", "sex"]].to_csv(oracle / "covar.tsv", sep="\t", index=False)
