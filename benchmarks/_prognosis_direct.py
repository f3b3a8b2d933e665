"""The prognosis benchmark's direct path: the analysis table built by hand from the same
governed views, as a researcher without ``wgs_tre.models`` would write it (pandas merges and
pivots, the packed dosages unpacked row by row of the chosen variants), and how two tables are
compared.

The principal components come from the same ``wgs_tre.genomics.pca`` call (same view, same
arguments) that ``analysis_table`` makes: both paths do that work, so it is timed on both sides
and cannot tilt the ratio.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from wgs_tre.backends.packed import MISSING, unpack_dosages
from wgs_tre.genomics import pca
from wgs_tre.project import ProjectHandle

LOINC = "http://loinc.org"
SITES = {"C18": "colon", "C34": "lung", "C50": "breast", "C61": "prostate", "C25": "pancreas"}
SMOKING = {"266919005": "never", "8517006": "former", "77176002": "current"}


def first_observation(observations: pd.DataFrame, code: str) -> pd.DataFrame:
    """Each participant's earliest observation of LOINC ``code``."""
    chosen = observations[(observations["system"] == LOINC) & (observations["code"] == code)]
    return chosen.sort_values(["sample_id", "date"], kind="stable").drop_duplicates("sample_id")


def dummies(values: pd.Series, prefix: str, reference: str) -> pd.DataFrame:
    """One-hot columns (sorted levels, ``reference`` left out); NaN where ``values`` is."""
    frame = pd.get_dummies(values, prefix=prefix, dtype=float)
    frame = frame.drop(columns=f"{prefix}_{reference}", errors="ignore")
    frame = frame[sorted(frame.columns)]
    frame.loc[values.isna()] = np.nan
    return frame


def clinical_by_hand(handle: ProjectHandle) -> pd.DataFrame:
    """Outcome and the default clinical covariates, indexed by ``sample_id``."""
    survival = handle.clinical("survival").set_index("sample_id")
    patients = handle.clinical("patients").drop_duplicates("sample_id").set_index("sample_id")
    observations = handle.clinical("observations")
    medications = handle.clinical("medications")
    out = pd.DataFrame(index=survival.index)
    out["time"] = survival["time_days"].astype(float)
    out["event"] = survival["event"].astype(bool)
    diagnosed = pd.to_datetime(survival["diagnosis_date"]).dt.year
    out["age"] = (diagnosed - patients["birth_year"].reindex(out.index)).astype(float)
    out["sex_male"] = patients["sex"].reindex(out.index).map({"male": 1.0, "female": 0.0})
    stage = first_observation(observations, "21908-9").set_index("sample_id")["value"]
    out["stage"] = stage.astype(float).reindex(out.index).fillna(0.0)
    # stage_missing would be collinear with the non-cancer diagnosis group: left out
    code = survival["diagnosis"].astype(str).str.upper()
    group = code.str[:3].map(SITES)
    group = group.fillna(code.str.startswith("C").map({True: "other_cancer", False: "non_cancer"}))
    counts = group.value_counts()
    reference = min(counts.index, key=lambda g: (-counts[g], g))
    out = out.join(dummies(group, "diagnosis", reference))
    bmi = first_observation(observations, "39156-5").set_index("sample_id")["value"]
    out["bmi"] = bmi.astype(float)
    smoking = first_observation(observations, "72166-2").set_index("sample_id")["value_code"]
    status = smoking.astype(str).map(SMOKING).fillna("other")
    out = out.join(dummies(status.reindex(out.index), "smoking", "never"))
    lines = medications.groupby("sample_id")["code"].nunique()
    out["treatment_lines"] = lines.reindex(out.index).fillna(0).astype(float)
    return out


def genomic_by_hand(handle: ProjectHandle, variants: Sequence[str], pcs: int) -> pd.DataFrame:
    """Dosages of ``variants`` (missing calls: the variant's mean) and ``pcs`` components."""
    view = handle.variants()
    samples = pd.Index([str(s) for s in view.sample_id.values], name="sample_id")
    contigs = np.asarray(view.contig_id.values).astype(object)[view.variant_contig.values]
    alleles = np.asarray(view.variant_allele.values).astype(object)
    specs = pd.Series(
        np.arange(len(contigs)),
        index=[f"{c}:{p}:{a[0]}:{a[1]}" for c, p, a in
               zip(contigs, view.variant_position.values, alleles, strict=True)],
    )  # fmt: skip
    rows = specs.loc[list(variants)].to_numpy()
    order = np.argsort(rows)  # the store reads rows in order
    packed = view.call_dosage_packed.isel(variants=rows[order]).values
    codes = unpack_dosages(np.ascontiguousarray(packed), len(samples))[np.argsort(order)]
    dosages = np.where(codes == MISSING, np.nan, codes.astype(float))
    dosages = np.where(np.isnan(dosages), np.nanmean(dosages, axis=1)[:, None], dosages)
    names = ["dosage_" + spec.replace(":", "_") for spec in variants]
    out = pd.DataFrame(dosages.T, index=samples, columns=names)
    projection = pca(view, pcs, progress=False)["sample_pca_projection"].values
    return out.join(pd.DataFrame(projection, index=samples,
                                 columns=[f"pc{i + 1}" for i in range(pcs)]))  # fmt: skip


def table_by_hand(handle: ProjectHandle, variants: Sequence[str], pcs: int) -> pd.DataFrame:
    """``sample_id``, ``time``, ``event`` and the features: complete cases, pseudonym order."""
    frame = clinical_by_hand(handle).join(genomic_by_hand(handle, variants, pcs), how="inner")
    return frame.dropna().sort_index().reset_index()


def table_difference(governed: pd.DataFrame, direct: pd.DataFrame) -> float:
    """The largest absolute difference between two tables' values; infinite unless they have
    the same columns in the same order and the same participants in the same order."""
    if list(governed.columns) != list(direct.columns) or len(governed) != len(direct):
        return float("inf")
    if not governed["sample_id"].equals(direct["sample_id"]):
        return float("inf")
    if not governed["event"].astype(bool).equals(direct["event"].astype(bool)):
        return float("inf")
    values = [c for c in governed.columns if c not in ("sample_id", "event")]
    a, b = governed[values].to_numpy(float), direct[values].to_numpy(float)
    return float(np.max(np.abs(a - b), initial=0.0))
