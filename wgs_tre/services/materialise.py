"""Materialised dispensal: a grant's view written where the project's sessions can read it.

The directory name carries a fingerprint of what was granted (dataset version, the set of
participants, the pseudonym key), so a consent change or a new version produces a new directory
and an unchanged grant reuses the old one. Views are written aside and renamed into place:
a session never sees half a dispensal. Files belong to root and the project's group, read-only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np

from wgs_tre.access import Grant
from wgs_tre.backends.vcf_zarr import CHUNK_SAMPLES, CHUNK_VARIANTS, PACKED_COMPRESSOR
from wgs_tre.clinical.fhir import TABLES
from wgs_tre.clinical.views import clinical_view
from wgs_tre.dispense import variants_view

__all__ = ["fingerprint", "materialise"]


def fingerprint(grant: Grant) -> str:
    digest = hashlib.sha256()
    digest.update(grant.dataset.encode())
    digest.update(hashlib.sha256(grant.key).digest())
    for participant in sorted(grant.participants):
        digest.update(participant.encode() + b"\0")
    return digest.hexdigest()[:16]


def _share(path: Path, gid: int) -> None:
    """root:project-group, directories 0750 and files 0640: readable by the project only."""
    for root, _dirs, files in os.walk(path):
        os.chown(root, 0, gid)
        os.chmod(root, 0o750)  # noqa: S103 - the project's group reading it is the point
        for name in files:
            os.chown(os.path.join(root, name), 0, gid)
            os.chmod(os.path.join(root, name), 0o640)


def materialise(grant: Grant, dispensal: Path, gid: int) -> Path:
    """The grant's view under ``dispensal`` (written now, or already there); return its path."""
    name = grant.dataset.replace("@", "-v")
    final = dispensal / f"{name}-{fingerprint(grant)}"
    if final.exists():
        return final
    staging = dispensal / f".writing-{final.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        if grant.kind == "variants":
            view = variants_view(grant)
            view = view.chunk({"variants": CHUNK_VARIANTS, "samples": CHUNK_SAMPLES})
            for variable in view.variables.values():
                variable.encoding = {}  # the stored chunking does not fit the selection
            view.call_dosage_packed.encoding = {"compressors": [PACKED_COMPRESSOR]}
            # Variable-length strings: Zarr v3 has no stable fixed-width unicode type
            view["sample_id"] = view.sample_id.astype(np.dtypes.StringDType())
            view.to_zarr(str(staging), zarr_format=3, consolidated=False)
        else:
            staging.mkdir()
            for table in TABLES:
                clinical_view(grant, table).to_parquet(staging / f"{table}.parquet", index=False)
        _share(staging, gid)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
