"""plink2 as an oracle: export a view (from its call_genotype, not the packed dosages the
analyses read) as a VCF, run plink2 on it, and read its tables back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr


def write_vcf(view: xr.Dataset, path: Path) -> None:
    """A plain VCF of the view; variant ids are v0, v1, ... in view order."""
    genotypes = view.call_genotype.values
    contigs = [str(c) for c in view.contig_id.values]
    alleles = view.variant_allele.values
    # each read once: indexing a Dask-backed variable per record computes it per record
    variant_contigs = view.variant_contig.values
    positions = view.variant_position.values
    text = np.where(genotypes < 0, ".", genotypes.astype(str))
    calls = np.char.add(np.char.add(text[:, :, 0], "/"), text[:, :, 1])
    samples = [str(s) for s in view.sample_id.values]
    with path.open("w") as out:
        out.write("##fileformat=VCFv4.2\n")
        for contig in contigs:
            out.write(f"##contig=<ID={contig}>\n")
        out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples))
        out.write("\n")
        for i in range(genotypes.shape[0]):
            alt = ",".join(a for a in alleles[i, 1:] if a) or "."
            fixed = (
                f"{contigs[variant_contigs[i]]}\t{positions[i]}\t"
                f"v{i}\t{alleles[i, 0]}\t{alt}\t.\tPASS\t.\tGT\t"
            )
            out.write(fixed + "\t".join(calls[i]) + "\n")


def plink2(*args: str | Path, cwd: Path) -> None:
    result = subprocess.run(
        ["plink2", "--threads", "2", "--allow-extra-chr", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def table(path: Path) -> pd.DataFrame:
    """A plink2 output table (tab-separated, header line starting with #)."""
    frame = pd.read_csv(path, sep="\t", na_values=["NA", "nan", "inf"])
    return frame.rename(columns={frame.columns[0]: frame.columns[0].lstrip("#")})
