"""``wgs-tre demo-data``: generate a synthetic cohort to ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wgs_tre.cli.common import progress_bar, state


def demo_data(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Where to write the cohort.")],
    samples: Annotated[int, typer.Option(help="Number of participants.")] = 200,
    variants: Annotated[int, typer.Option(help="Number of biallelic variants.")] = 5_000,
    contigs: Annotated[int, typer.Option(help="Number of chromosomes to simulate.")] = 2,
    missing: Annotated[float, typer.Option(help="Fraction of calls set missing.")] = 0.01,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same cohort).")] = 42,
) -> None:
    """Simulate a synthetic cohort: genotypes (msprime, bgzipped VCF + tabix index), clinical
    FHIR Bundles per hospital with a local-code mapping table, FHIR Consents, and truth.json with
    the causal variants and effect sizes behind the outcomes.

    Needs no store; it only writes files. The smallest cohort is 2 samples and 6 variants (the
    outcomes have 6 causal variants); 10,000 x 1,000,000 takes tens of minutes.
    """
    from wgs_tre.synth import GenotypeSpec, make_cohort  # msprime loads only when needed

    st = state(ctx)
    spec = GenotypeSpec(
        samples=samples, variants=variants, contigs=contigs, seed=seed, missing_rate=missing
    )
    spec.validate()
    with progress_bar("simulating variants", total=variants) as bar:
        files = make_cohort(directory, spec, progress=lambda n: bar.advance(bar.task_ids[0], n))
    st.done(
        f"cohort of {files.samples} participants and {files.variants} variants in {directory}",
        files,
    )
