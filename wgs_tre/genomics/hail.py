"""The Hail engine: a governed view as a Hail MatrixTable.

Hail cannot read Zarr, so the view's packed dosages are written as a PLINK 1 fileset, which
``hl.import_plink`` reads. The two formats pack calls the same way (four per byte, the first in
the lowest bits) with different codes, so each byte converts through one 256-entry table: a
2,000 x 100,000 view converts in well under a second. Only the view leaves for the fileset:
its consented samples under their pseudonyms, nothing of the raw data. The files live in a
scratch directory removed when the process ends.

Rows are keyed by ``locus`` and ``alleles`` (``[REF, ALT]``); columns by ``s``, the sample's
pseudonym, as Hail's own importers name it. Loci are on GRCh38 when the view's contigs are
GRCh38's (``chr1`` ...) and no position or declared length passes a contig's end, else on
GRCh37 under the same test (``1`` ...), so public resources keyed by locus join; otherwise on a
reference of the view's own contigs, which such resources will not join. ``GT`` counts ALT
alleles, as in the view. At a multi-allelic site the ALTs are one allele (their names joined
with ``,``), because the packed dosages count non-reference alleles. The view's annotations are
row fields named by their INFO key (``GENE``, ``CSQ``, ``CLNSIG``, as in
``genomics.variant_table``), and the global ``wgs_tre`` says which project and dataset the view
is of.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from wgs_tre.backends.vcf import ANNOTATIONS
from wgs_tre.backends.vcf_zarr import CHUNK_VARIANTS
from wgs_tre.genomics.blocks import VIEW_ATTRS, blocks_of, compute

__all__ = ["to_hail", "write_plink"]

BED_MAGIC = bytes([0x6C, 0x1B, 0x01])  # PLINK 1 .bed, variant-major


def _bed_table() -> np.ndarray:
    # ALT count -> .bed code when A1 is ALT and A2 is REF: 0 (hom REF = hom A2) -> 0b11,
    # 1 -> 0b10 (het), 2 (hom A1) -> 0b00, missing (3) -> 0b01.
    code = np.array([3, 2, 0, 1], dtype=np.uint8)
    byte = np.arange(256, dtype=np.uint8)
    return sum(
        (code[(byte >> shift) & 3] << shift for shift in (0, 2, 4, 6)),
        start=np.zeros(256, dtype=np.uint8),
    ).astype(np.uint8)


BED_TABLE = _bed_table()


def write_plink(ds: xr.Dataset, prefix: Path, *, progress: bool = True) -> Path:
    """Write the view as ``prefix.bed/.bim/.fam`` (A1 = ALT, A2 = REF); returns ``prefix``.

    Written under temporary names and renamed when complete, so a reader never sees half a
    fileset."""
    blocks = blocks_of(ds, "write_plink")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    part = prefix.with_name(prefix.name + ".partial")
    with open(part.with_suffix(".bed"), "wb") as bed:
        bed.write(BED_MAGIC)
        for start in range(0, len(blocks.parts), 8):  # a few blocks in memory at a time
            for rows in compute(blocks.parts[start : start + 8], progress=progress):
                bed.write(BED_TABLE[rows].tobytes())
    _variants_table(ds).to_csv(part.with_suffix(".bim"), sep="\t", header=False, index=False)
    samples = pd.DataFrame({"fid": ds.sample_id.values, "iid": ds.sample_id.values})
    samples = samples.assign(father=0, mother=0, sex=0, phenotype=-9)
    samples.to_csv(part.with_suffix(".fam"), sep="\t", header=False, index=False)
    for suffix in (".bim", ".fam", ".bed"):  # .bed last: its presence means complete
        part.with_suffix(suffix).rename(prefix.with_suffix(suffix))
    return prefix


def _variants_table(ds: xr.Dataset) -> pd.DataFrame:
    alleles = ds.variant_allele.values
    alts = [",".join(a for a in row[1:] if a) or "." for row in alleles]
    ids = ds.variant_id.values if "variant_id" in ds else np.full(ds.sizes["variants"], ".")
    return pd.DataFrame(
        {
            "contig": ds.contig_id.values[ds.variant_contig.values],
            # Hail keys rows by locus and alleles; a unique id keeps duplicate "." ids apart
            "id": [f"{v}" if v != "." else f"row{i}" for i, v in enumerate(ids)],
            "cm": 0,
            "position": ds.variant_position.values,
            "a1": alts,
            "a2": alleles[:, 0],
        }
    )


_scratch: Path | None = None


def _scratch_dir() -> Path:
    """One scratch directory per process, removed at exit."""
    global _scratch
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix="wgs-tre-hail-"))
        atexit.register(shutil.rmtree, _scratch, True)
    return _scratch


def _init_hail(master: str, spark_conf: dict[str, str], scratch: Path) -> Any:
    import hail as hl

    if master.startswith("local"):
        # Spark otherwise binds the first non-loopback address it finds (in a hub host, the
        # sessions' veth): a local master needs nothing but loopback.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hail was built and tested with Java 11")
        hl.init(
            master=master,
            spark_conf=spark_conf or None,
            tmp_dir=str(scratch / "tmp"),
            local_tmpdir=str(scratch / "tmp"),
            log=str(scratch / "hail.log"),
            quiet=True,
            idempotent=True,  # a second view in the same process reuses the running Hail
        )
    return hl


def to_hail(
    ds: xr.Dataset,
    *,
    master: str = "local[2]",
    spark_conf: dict[str, str] | None = None,
    progress: bool = True,
) -> Any:
    """The governed view ``ds`` as a Hail MatrixTable (Hail starts on ``master`` if it has not
    already)."""
    scratch = _scratch_dir()
    prefix = scratch / f"view{len(list(scratch.glob('*.bed')))}"
    write_plink(ds, prefix, progress=progress)
    hl = _init_hail(master, spark_conf or {}, scratch)
    mt = hl.import_plink(
        bed=str(prefix.with_suffix(".bed")),
        bim=str(prefix.with_suffix(".bim")),
        fam=str(prefix.with_suffix(".fam")),
        reference_genome=_reference(hl, ds),
        a2_reference=True,
        quant_pheno=False,
        min_partitions=-(-ds.sizes["variants"] // CHUNK_VARIANTS),
    )
    mt = mt.drop("fam_id", "pat_id", "mat_id", "is_female", "is_case")
    notes = {name: str(ds.attrs.get(name, "")) for name in VIEW_ATTRS}
    mt = mt.annotate_globals(wgs_tre=hl.struct(**notes))
    return _with_annotations(hl, mt, ds, prefix)


BUILT_IN_REFERENCES = ("GRCh38", "GRCh37")  # tried in this order


def _reference(hl: Any, ds: xr.Dataset) -> Any:
    """The first of Hail's ``BUILT_IN_REFERENCES`` that holds every contig of the view, with
    no position or declared length past a contig's end; else a reference of the view's own
    contigs and lengths, named by a hash of them (a VCF often declares no build at all)."""
    positions = pd.Series(ds.variant_position.values).groupby(ds.variant_contig.values).max()
    lengths = {
        str(name): max(int(length), int(positions.get(i, 0)), 1)
        for i, (name, length) in enumerate(
            zip(ds.contig_id.values, ds.contig_length.values, strict=True)
        )
    }
    for name in BUILT_IN_REFERENCES:
        reference = hl.get_reference(name)
        if all(reference.lengths.get(c, 0) >= length for c, length in lengths.items()):
            return reference
    name = "wgs_tre_" + hashlib.sha256(json.dumps(lengths).encode()).hexdigest()[:12]
    try:
        return hl.get_reference(name)
    except KeyError:
        return hl.ReferenceGenome(name, list(lengths), lengths)


def _with_annotations(hl: Any, mt: Any, ds: xr.Dataset, prefix: Path) -> Any:
    """The view's ``variant_<KEY>`` annotations as row fields ``<KEY>`` (``GENE``, ``CSQ``,
    ``CLNSIG``), joined on row number from a table beside the fileset."""
    keys = [key for key in ANNOTATIONS if f"variant_{key}" in ds]
    if not keys:
        return mt
    table = pd.DataFrame({key: ds[f"variant_{key}"].values for key in keys})
    path = prefix.with_suffix(".annotations.tsv")
    table.rename_axis("row").reset_index().to_csv(path, sep="\t", index=False)
    annotations = hl.import_table(
        str(path), key="row", types={"row": hl.tint64}, missing="", quote=None
    )
    mt = mt.add_row_index("wgs_tre_row")
    return mt.annotate_rows(**annotations[mt["wgs_tre_row"]]).drop("wgs_tre_row")
