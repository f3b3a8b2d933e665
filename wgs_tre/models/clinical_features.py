"""Clinical covariates and the survival outcome of an analysis table, from a project's clinical
tables (``patients``, ``observations``, ``medications``, ``survival``: what
``open_project().clinical(table)`` returns, keyed by ``sample_id``).

Each covariate is one or more numeric columns; categories are one-hot with a reference level
left out. No date leaves this module: dates are only used to compute ages and times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from wgs_tre.errors import InvalidInput
from wgs_tre.models.frame import EVENT, ID, TIME

__all__ = ["CLINICAL_COVARIATES", "OUTCOMES", "clinical_features", "outcome"]

LOINC = "http://loinc.org"
STAGE, BMI, SMOKING = "21908-9", "39156-5", "72166-2"  # LOINC: stage group, BMI, smoking status
SMOKING_STATUS = {"266919005": "never", "8517006": "former", "77176002": "current"}  # SNOMED CT
DIAGNOSIS_GROUPS = {"C18": "colon", "C34": "lung", "C50": "breast", "C61": "prostate",
                    "C25": "pancreas"}  # fmt: skip
OUTCOMES = ("overall_survival",)

Tables = Callable[[str], pd.DataFrame]  # clinical table name -> the project's view of it


def _patients(tables: Tables) -> pd.DataFrame:
    """One row per participant (a participant seen at two hospitals has two Patient records:
    the first is kept)."""
    return tables("patients").drop_duplicates(ID).set_index(ID)


def _age(tables: Tables) -> pd.DataFrame:
    """Age at diagnosis in years: diagnosis year minus birth year (views hold birth years)."""
    births = _patients(tables)["birth_year"]
    survival = tables("survival").set_index(ID)
    diagnosed = pd.to_datetime(survival["diagnosis_date"]).dt.year
    return pd.DataFrame({"age": (diagnosed - births.reindex(diagnosed.index)).astype(float)})


def _sex(tables: Tables) -> pd.DataFrame:
    """``sex_male``: 1 male, 0 female (the reference); other values are left missing."""
    sex = _patients(tables)["sex"]
    male = sex.map({"male": 1.0, "female": 0.0})
    return pd.DataFrame({"sex_male": male})


def _observations(tables: Tables, code: str) -> pd.DataFrame:
    """One participant's first (earliest) LOINC ``code`` observation."""
    frame = tables("observations")
    chosen = frame[(frame["system"] == LOINC) & (frame["code"] == code)]
    return chosen.sort_values([ID, "date"], kind="stable").drop_duplicates(ID).set_index(ID)


def _stage(tables: Tables) -> pd.DataFrame:
    """``stage``: the stage group (1-4), 0 where none is recorded (non-cancer diagnoses);
    ``stage_missing``: 1 where none is recorded. Stage then acts linearly from stage 1 on, and
    the unstaged have a level of their own instead of being taken for stage 0."""
    stage = _observations(tables, STAGE)["value"].astype(float)
    index = tables("survival")[ID]
    stage = stage.reindex(index)
    return pd.DataFrame({"stage": stage.fillna(0.0), "stage_missing": stage.isna().astype(float)},
                        index=index)  # fmt: skip


def _bmi(tables: Tables) -> pd.DataFrame:
    return pd.DataFrame({"bmi": _observations(tables, BMI)["value"].astype(float)})


def _smoking(tables: Tables) -> pd.DataFrame:
    """``smoking_former``, ``smoking_current`` (and ``smoking_other`` for codes outside the
    three SNOMED CT statuses), never-smokers the reference."""
    codes = _observations(tables, SMOKING)["value_code"]
    status = codes.map(lambda c: SMOKING_STATUS.get(str(c), "other"))
    return _one_hot(status, "smoking", reference="never")


def _treatment_lines(tables: Tables) -> pd.DataFrame:
    """Distinct medications a participant has a statement of (0 when none)."""
    medications = tables("medications")
    counts = medications.groupby(ID)["code"].nunique() if len(medications) else pd.Series()
    index = tables("survival")[ID]
    return pd.DataFrame({"treatment_lines": counts.reindex(index).fillna(0).astype(float)},
                        index=index)  # fmt: skip


def diagnosis_group(icd10: str) -> str:
    """The ICD-10 code's group: the cancer site, ``other_cancer`` or ``non_cancer``."""
    code = str(icd10).upper()
    if code[:3] in DIAGNOSIS_GROUPS:
        return DIAGNOSIS_GROUPS[code[:3]]
    return "other_cancer" if code.startswith("C") else "non_cancer"


def _diagnosis(tables: Tables) -> pd.DataFrame:
    """The primary diagnosis (the encounter diagnosis survival is counted from) by group,
    one-hot ``diagnosis_<group>``, the most common group the reference."""
    groups = tables("survival").set_index(ID)["diagnosis"].map(diagnosis_group)
    reference = sorted(groups.value_counts().items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return _one_hot(groups, "diagnosis", reference=str(reference))


def _one_hot(values: pd.Series, prefix: str, *, reference: str) -> pd.DataFrame:
    levels = sorted(set(values.dropna()) - {reference})
    columns = {f"{prefix}_{level}": (values == level).astype(float) for level in levels}
    frame = pd.DataFrame(columns, index=values.index)
    frame.loc[values.isna()] = np.nan
    return frame


CLINICAL_COVARIATES: dict[str, Callable[[Tables], pd.DataFrame]] = {
    "age": _age,
    "sex": _sex,
    "stage": _stage,
    "diagnosis": _diagnosis,
    "bmi": _bmi,
    "smoking": _smoking,
    "treatment_lines": _treatment_lines,
}


def clinical_features(tables: Tables, covariates: Sequence[str]) -> pd.DataFrame:
    """The columns of ``covariates`` (names of :data:`CLINICAL_COVARIATES`), indexed by
    ``sample_id``; a participant without a value is NaN there.

    With both ``stage`` and ``diagnosis``, ``stage_missing`` is left out: the diagnosis groups
    already tell the unstaged (non-cancer) apart, and the two together would be collinear.
    """
    unknown = [c for c in covariates if c not in CLINICAL_COVARIATES]
    if unknown:
        raise InvalidInput(
            f"clinical covariate {unknown[0]!r}",
            f"is not one of: {', '.join(CLINICAL_COVARIATES)}",
        )
    parts = [CLINICAL_COVARIATES[name](tables) for name in dict.fromkeys(covariates)]
    frame = pd.concat(parts, axis=1) if parts else pd.DataFrame()
    if "stage" in covariates and "diagnosis" in covariates:
        frame = frame.drop(columns="stage_missing")
    frame.index.name = ID
    return frame


def outcome(tables: Tables, name: str) -> pd.DataFrame:
    """``time`` (days from the primary diagnosis to death or last contact) and ``event``
    (death), indexed by ``sample_id``, from the ``survival`` table."""
    if name not in OUTCOMES:
        raise InvalidInput(f"outcome {name!r}", f"is not one of: {', '.join(OUTCOMES)}")
    survival = tables("survival")
    if survival.empty:
        raise InvalidInput("outcome", "the clinical dataset has no survival records")
    frame = survival.set_index(ID)
    return pd.DataFrame({TIME: frame["time_days"].astype(float),
                         EVENT: frame["event"].astype(bool)})  # fmt: skip
