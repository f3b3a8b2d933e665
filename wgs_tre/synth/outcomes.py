"""Clinical covariates and outcomes that depend on a few causal variants, with documented truth.

Three outcomes, each driven by its own causal variants plus clinical covariates:

* overall survival after diagnosis (Weibull proportional hazards, administrative censoring),
* an LDL-cholesterol-like biomarker (linear, with a small population shift: PCs matter),
* type 2 diabetes as a comorbidity (logistic).

The effects are written to ``truth.json`` beside the cohort so that prognosis models and GWAS can
be checked against what was put in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from wgs_tre.synth.genotypes import CAUSAL_VARIANTS, CausalCandidate, VcfSummary

__all__ = ["Participant", "Truth", "simulate_outcomes"]

CANCERS = {"C18": "colon", "C34": "lung", "C50": "breast", "C61": "prostate", "C25": "pancreas"}
RARE = {
    "Q87.4": "Marfan syndrome",
    "E75.22": "Gaucher disease",
    "G71.0": "muscular dystrophy",
    "E84.9": "cystic fibrosis",
    "E70.0": "phenylketonuria",
}
FOLLOW_UP_END = dt.date(2026, 6, 30)


@dataclass(frozen=True)
class Effect:
    contig: str
    position: int
    ref: str
    alt: str
    outcome: str  # survival | biomarker | diabetes
    effect: float  # log hazard ratio, biomarker units (mg/dL) or log odds ratio, per alt allele
    alt_frequency: float


@dataclass(frozen=True)
class Truth:
    """The generating model; see the module docstring."""

    effects: list[Effect]
    survival: dict[str, float]  # weibull shape, scale (days), log HR per 10 years age, per stage
    biomarker: dict[str, float]  # intercept, per 10 years age, male, population B, noise sd
    diabetes: dict[str, float]  # intercept (log odds), per 10 years age, per BMI unit over 25

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Participant:
    id: str
    population: int
    sex: str
    hospital: int
    diagnosis: str  # ICD-10
    diagnosed: dt.date
    age: int  # at diagnosis
    stage: int | None  # cancers only
    bmi: float
    smoking: str  # never | former | current
    biomarker: float
    diabetes: bool
    died: dt.date | None
    last_contact: dt.date

    @property
    def birth_date(self) -> dt.date:
        return self.diagnosed - dt.timedelta(days=int(self.age * 365.25) + 100)

    @property
    def is_cancer(self) -> bool:
        return self.diagnosis in CANCERS


def _pick_causal(
    candidates: list[CausalCandidate], rng: np.random.Generator
) -> list[CausalCandidate]:
    if len(candidates) < CAUSAL_VARIANTS:  # write_vcf tops up small cohorts: a bug if reached
        raise RuntimeError(f"{len(candidates)} causal candidates, {CAUSAL_VARIANTS} needed")
    chosen = rng.choice(len(candidates), CAUSAL_VARIANTS, replace=False)
    return [candidates[i] for i in sorted(chosen)]


def simulate_outcomes(
    summary: VcfSummary, *, seed: int, hospitals: int = 3
) -> tuple[list[Participant], Truth]:
    rng = np.random.default_rng(seed + 7)
    n = len(summary.sample_ids)
    causal = _pick_causal(summary.candidates, rng)
    plan = [
        ("survival", 0.55),
        ("survival", 0.45),
        ("biomarker", 6.0),
        ("biomarker", 4.0),
        ("diabetes", 0.6),
        ("diabetes", 0.5),
    ]
    effects = [
        Effect(c.contig, c.position, c.ref, c.alt, outcome, size, float(c.dosage.mean() / 2))
        for c, (outcome, size) in zip(causal, plan, strict=True)
    ]
    dosage = {e.outcome: np.zeros(n) for e in effects}
    for c, e in zip(causal, effects, strict=True):
        dosage[e.outcome] += e.effect * c.dosage

    male = rng.random(n) < 0.5
    age = np.clip(rng.normal(62, 11, n), 20, 90).round()
    cancer = rng.random(n) < 0.7
    stage = np.where(cancer, rng.choice([1, 2, 3, 4], n, p=[0.3, 0.3, 0.25, 0.15]), 0)
    bmi = np.clip(rng.normal(24 + summary.population * 1.5, 3.5, n), 15, 45).round(1)
    truth = Truth(
        effects,
        survival={
            "weibull_shape": 1.2,
            "weibull_scale_days": 4_000.0,
            "age_per_10y": 0.3,
            "stage": 0.5,
        },
        biomarker={
            "intercept": 110.0,
            "age_per_10y": 2.0,
            "male": 5.0,
            "population_b": 8.0,
            "noise_sd": 15.0,
        },
        diabetes={"intercept": -2.5, "age_per_10y": 0.35, "bmi_over_25": 0.12},
    )
    s, b, d = truth.survival, truth.biomarker, truth.diabetes
    linear = (
        dosage["survival"]
        + s["age_per_10y"] * (age - 60) / 10
        + s["stage"] * np.maximum(stage - 1, 0)
    )
    survival_days = s["weibull_scale_days"] * (-np.log(rng.random(n)) / np.exp(linear)) ** (
        1 / s["weibull_shape"]
    )
    biomarker = (
        b["intercept"]
        + dosage["biomarker"]
        + b["age_per_10y"] * (age - 60) / 10
        + b["male"] * male
        + b["population_b"] * summary.population
        + rng.normal(0, b["noise_sd"], n)
    )
    logit = (
        d["intercept"]
        + dosage["diabetes"]
        + d["age_per_10y"] * (age - 60) / 10
        + d["bmi_over_25"] * (bmi - 25)
    )
    diabetes = rng.random(n) < 1 / (1 + np.exp(-logit))

    participants = []
    for i, pid in enumerate(summary.sample_ids):
        diagnosed = dt.date(2015, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3_650)))
        censor = min(FOLLOW_UP_END, diagnosed + dt.timedelta(days=int(rng.integers(365, 4_000))))
        death = diagnosed + dt.timedelta(days=max(1, int(survival_days[i])))
        died = death if death <= censor else None
        codes = list(RARE)
        if cancer[i]:
            codes = [c for c in CANCERS if c != ("C50" if male[i] else "C61")]
        participants.append(
            Participant(
                id=pid,
                population=int(summary.population[i]),
                sex="male" if male[i] else "female",
                hospital=int(rng.integers(0, hospitals)),
                diagnosis=str(rng.choice(codes)),
                diagnosed=diagnosed,
                age=int(age[i]),
                stage=int(stage[i]) if cancer[i] else None,
                bmi=float(bmi[i]),
                smoking=str(rng.choice(["never", "former", "current"], p=[0.5, 0.3, 0.2])),
                biomarker=round(float(biomarker[i]), 1),
                diabetes=bool(diabetes[i]),
                died=died,
                last_contact=died or censor,
            )
        )
    return participants, truth
