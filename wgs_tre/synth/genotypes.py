"""Synthetic genotypes from a population-genetics simulation, written as an upstream pipeline
would deliver them: a bgzipped, tabix-indexed VCF with per-variant annotation for a subset.

msprime simulates two populations that split ``split_generations`` ago, one of them smaller (so
drift makes structure that PCA finds, Fst about 0.2), with recombination (linkage) and neutral
mutation (a realistic allele-frequency spectrum). Each contig is simulated independently; only
biallelic, polymorphic sites are kept, and the first ``variants`` of them in total. A fraction
of calls is set missing, as in real data.
"""

from __future__ import annotations

import heapq
import itertools
import math
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msprime
import numpy as np
import tskit

from wgs_tre.errors import ConfigurationError, InvalidInput

__all__ = ["CAUSAL_VARIANTS", "CausalCandidate", "GenotypeSpec", "VcfSummary", "write_vcf"]

NE = 10_000  # effective size of each population
MUTATION_RATE = 1.25e-8
RECOMBINATION_RATE = 1e-8
CHUNK = 5_000  # variants formatted and written at a time
CAUSAL_VARIANTS = 6  # candidates the outcome model needs (wgs_tre.synth.outcomes)
GENES = [
    "BRCA1",
    "BRCA2",
    "TP53",
    "KRAS",
    "EGFR",
    "APC",
    "MLH1",
    "MSH2",
    "PTEN",
    "ATM",
    "CHEK2",
    "PALB2",
    "CDH1",
    "STK11",
    "SMAD4",
    "NF1",
    "RB1",
    "VHL",
    "MUTYH",
    "PMS2",
    "FBN1",
    "CFTR",
    "DMD",
    "GBA1",
    "HEXA",
    "SMN1",
    "PAH",
    "COL1A1",
    "MYH7",
    "SCN5A",
]
CONSEQUENCES = {
    "intron_variant": 0.58,
    "synonymous_variant": 0.15,
    "missense_variant": 0.18,
    "splice_region_variant": 0.05,
    "stop_gained": 0.04,
}
SIGNIFICANCE = [
    "Benign",
    "Likely_benign",
    "Uncertain_significance",
    "Likely_pathogenic",
    "Pathogenic",
]
# Significance weights for consequences that can matter clinically; others are benign or none.
_DAMAGING = {
    "missense_variant": [0.25, 0.25, 0.35, 0.1, 0.05],
    "splice_region_variant": [0.2, 0.3, 0.3, 0.1, 0.1],
    "stop_gained": [0.0, 0.05, 0.15, 0.3, 0.5],
}


@dataclass(frozen=True)
class GenotypeSpec:
    samples: int = 200
    variants: int = 5_000
    contigs: int = 2
    seed: int = 42
    missing_rate: float = 0.01
    split_generations: int = 3_000
    annotated_fraction: float = 0.5  # of the genome covered by the genes

    def validate(self) -> None:
        if self.samples < 2:
            raise InvalidInput("--samples", "simulate at least 2 samples")
        if self.contigs < 1:
            raise InvalidInput("--contigs", "simulate at least 1 contig")
        if self.variants < self.contigs:
            raise InvalidInput("--variants", "need at least one variant per contig")
        if not 0 <= self.missing_rate < 0.5:
            raise InvalidInput("--missing", "the missing-call rate must be in [0, 0.5)")


@dataclass(frozen=True)
class CausalCandidate:
    """A common variant the outcome model may make causal: where it is and its true dosages."""

    contig: str
    position: int
    ref: str
    alt: str
    dosage: np.ndarray  # (samples,) alternate allele counts, before calls were masked missing


@dataclass
class VcfSummary:
    path: Path
    sample_ids: list[str]
    population: np.ndarray  # (samples,) 0 or 1
    contigs: list[tuple[str, int]]
    variants: int = 0
    annotated: int = 0
    candidates: list[CausalCandidate] = field(default_factory=list)


def _segregating_sites_per_bp(haploids: int) -> float:
    harmonic = sum(1 / i for i in range(1, haploids))
    return 4 * NE * MUTATION_RATE * harmonic


def _simulate(spec: GenotypeSpec, contig: int, n_sites: int) -> tskit.TreeSequence:
    """Enough sequence for ``n_sites`` biallelic sites (with a margin), both populations."""
    demography = msprime.Demography()
    demography.add_population(name="A", initial_size=NE)
    demography.add_population(name="B", initial_size=NE // 2)  # bottlenecked, drifted more
    demography.add_population(name="ANC", initial_size=NE)
    demography.add_population_split(
        time=spec.split_generations, derived=["A", "B"], ancestral="ANC"
    )
    half = spec.samples // 2
    length = math.ceil(1.3 * n_sites / _segregating_sites_per_bp(2 * spec.samples)) + 1_000
    for attempt in range(8):  # small counts vary a lot: lengthen until there are enough sites
        ancestry = msprime.sim_ancestry(
            samples={"A": spec.samples - half, "B": half},
            demography=demography,
            sequence_length=length,
            recombination_rate=RECOMBINATION_RATE,
            random_seed=spec.seed * 1_000 + contig + 1 + 10_000 * attempt,
        )
        ts = msprime.sim_mutations(
            ancestry,
            rate=MUTATION_RATE,
            model=msprime.BinaryMutationModel(),
            random_seed=spec.seed * 1_000 + contig + 101 + 10_000 * attempt,
        )
        if ts.num_sites >= 1.05 * n_sites + 2:
            return ts
        length *= 2
    raise RuntimeError(f"could not simulate {n_sites} sites on contig {contig + 1}")


def _gene_map(
    contig: int, length: int, per_contig: int, fraction: float
) -> list[tuple[int, int, str]]:
    """Genes laid out evenly along the contig, covering ``fraction`` of it."""
    genes = GENES[contig * per_contig : (contig + 1) * per_contig] or GENES[:per_contig]
    slot = length // max(len(genes), 1)
    span = int(slot * fraction)
    return [(i * slot, i * slot + span, name) for i, name in enumerate(genes)]


def _annotations(
    positions: np.ndarray, genes: list[tuple[int, int, str]], rng: np.random.Generator
) -> list[str]:
    info = ["."] * len(positions)
    kinds, weights = list(CONSEQUENCES), list(CONSEQUENCES.values())
    for start, end, gene in genes:
        inside = np.flatnonzero((positions >= start) & (positions < end))
        for i in inside:
            consequence = kinds[rng.choice(len(kinds), p=weights)]
            parts = [f"GENE={gene}", f"CSQ={consequence}"]
            if consequence in _DAMAGING:
                parts.append(f"CLNSIG={SIGNIFICANCE[rng.choice(5, p=_DAMAGING[consequence])]}")
            info[i] = ";".join(parts)
    return info


# A common variant asserted pathogenic is an artefact real databases do not hold (pathogenic
# alleles are rare): above this frequency an assertion of harm becomes its benign mirror.
COMMON_ASSERTION = 0.01
_MIRROR = {"CLNSIG=Pathogenic": "CLNSIG=Benign", "CLNSIG=Likely_pathogenic": "CLNSIG=Likely_benign"}


def _benign_when_common(info: list[str], frequency: np.ndarray) -> list[str]:
    """``info`` with harmful assertions of common variants mirrored (no random draws: the
    cohort's random stream, and so everything else about it, is unchanged)."""
    out = list(info)
    for i in np.flatnonzero(frequency > COMMON_ASSERTION):
        head, _, assertion = out[i].rpartition(";")
        if assertion in _MIRROR:
            out[i] = f"{head};{_MIRROR[assertion]}"
    return out


def _chunks(
    ts: tskit.TreeSequence, keep: int, order: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(positions, genotypes (v, samples, 2)) of the first ``keep`` biallelic polymorphic sites."""
    positions, genotypes, kept = [], [], 0
    haploids = ts.num_samples
    for variant in ts.variants(copy=False):
        if kept >= keep:
            break
        if len(variant.alleles) != 2:
            continue
        alt_count = int(variant.genotypes.sum())
        if alt_count in (0, haploids):
            continue
        positions.append(int(variant.site.position) + 1)  # VCF is 1-based
        genotypes.append(variant.genotypes.reshape(-1, 2)[order].astype(np.int8))
        kept += 1
        if len(positions) == CHUNK:
            yield np.array(positions), np.stack(genotypes)
            positions, genotypes = [], []
    if positions:
        yield np.array(positions), np.stack(genotypes)
    if kept < keep:
        raise RuntimeError(f"simulation yielded {kept} sites, {keep} wanted; raise the margin")


def _format(
    chrom: str,
    positions: np.ndarray,
    refs: np.ndarray,
    alts: np.ndarray,
    info: list[str],
    calls: np.ndarray,
    missing: np.ndarray,
) -> bytes:
    """VCF lines for a chunk; genotype columns are built as one byte array, not string by string."""
    v, n, _ = calls.shape
    grid = np.empty((v, n, 4), dtype=np.uint8)
    grid[..., 0] = calls[..., 0] + ord("0")
    grid[..., 1] = ord("|")
    grid[..., 2] = calls[..., 1] + ord("0")
    grid[..., 3] = ord("\t")
    grid[missing] = np.frombuffer(b"./.\t", dtype=np.uint8)
    grid[:, -1, 3] = ord("\n")
    rows = grid.reshape(v, n * 4)
    return b"".join(
        f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t{inf}\tGT\t".encode() + rows[i].tobytes()
        for i, (pos, ref, alt, inf) in enumerate(zip(positions, refs, alts, info, strict=True))
    )


def _header(spec: GenotypeSpec, contigs: list[tuple[str, int]], sample_ids: list[str]) -> bytes:
    lines = [
        "##fileformat=VCFv4.3",
        f"##source=wgs-tre synthetic cohort (msprime {msprime.__version__}, seed {spec.seed})",
        *(f"##contig=<ID={name},length={length}>" for name, length in contigs),
        '##INFO=<ID=GENE,Number=1,Type=String,Description="Gene symbol">',
        '##INFO=<ID=CSQ,Number=1,Type=String,Description="Most severe consequence (SO term)">',
        '##INFO=<ID=CLNSIG,Number=1,Type=String,Description="ClinVar-like significance">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"])
        + "\t"
        + "\t".join(sample_ids),
    ]
    return ("\n".join(lines) + "\n").encode()


class _Reserve:
    """Spare causal candidates, for cohorts too small for the 5% draw to find enough: the
    ``size`` variants with the smallest random ranks, common ones (in the candidate frequency
    range) ranked before the others. It draws from a random stream of its own, so the cohort
    written for a seed is the same whether the reserve is used or not."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.rng = np.random.default_rng([seed, 1])
        self.heap: list[tuple[float, int, CausalCandidate]] = []  # (-rank, arrival, candidate)
        self.arrivals = itertools.count()

    def offer(
        self,
        chrom: str,
        positions: np.ndarray,
        refs: np.ndarray,
        alts: np.ndarray,
        dosage: np.ndarray,
        common: np.ndarray,
        drawn: np.ndarray,
    ) -> None:
        ranks = self.rng.random(len(positions)) + np.where(common, 0.0, 1.0)
        ranks[drawn] = np.inf  # already a candidate
        worst = -self.heap[0][0] if len(self.heap) == self.size else np.inf
        for i in np.flatnonzero(ranks < worst):
            if len(self.heap) == self.size and ranks[i] >= -self.heap[0][0]:
                continue
            item = (-float(ranks[i]), next(self.arrivals), CausalCandidate(
                chrom, int(positions[i]), refs[i], alts[i], dosage[i].copy()
            ))  # fmt: skip
            if len(self.heap) < self.size:
                heapq.heappush(self.heap, item)
            else:
                heapq.heapreplace(self.heap, item)

    def best(self, n: int) -> list[CausalCandidate]:
        return [candidate for _, _, candidate in sorted(self.heap, reverse=True)[:n]]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError(f"{name} (Debian package tabix) is needed; run scripts/install")
    return found


def write_vcf(
    path: Path,
    spec: GenotypeSpec,
    *,
    sample_ids: list[str],
    progress: Callable[[int], None] | None = None,
    candidate_maf: tuple[float, float] = (0.05, 0.4),
    max_candidates: int = 500,
) -> VcfSummary:
    """Simulate and write ``path`` (.vcf.gz) with its tabix index; return what outcomes need."""
    spec.validate()
    if len(sample_ids) != spec.samples:
        raise InvalidInput("sample_ids", f"{len(sample_ids)} ids for {spec.samples} samples")
    rng = np.random.default_rng(spec.seed)
    order = rng.permutation(spec.samples)  # interleave the populations in the sample columns
    half = spec.samples // 2
    population = (order >= spec.samples - half).astype(np.int8)
    per_contig = [spec.variants // spec.contigs] * spec.contigs
    per_contig[-1] += spec.variants - sum(per_contig)
    simulations = [_simulate(spec, i, n) for i, n in enumerate(per_contig)]
    contigs = [(f"chr{i + 1}", int(ts.sequence_length)) for i, ts in enumerate(simulations)]
    summary = VcfSummary(path, sample_ids, population, contigs)
    genes_per_contig = max(1, len(GENES) // spec.contigs)
    reserve = _Reserve(CAUSAL_VARIANTS, spec.seed)
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("wb") as out:
        bgzip = subprocess.Popen(
            [_tool("bgzip"), "-@", "2", "-c"], stdin=subprocess.PIPE, stdout=out
        )
        assert bgzip.stdin is not None
        bgzip.stdin.write(_header(spec, contigs, sample_ids))
        for index, ts in enumerate(simulations):
            chrom, length = contigs[index]
            genes = _gene_map(index, length, genes_per_contig, spec.annotated_fraction)
            for positions, calls in _chunks(ts, per_contig[index], order):
                refs = rng.choice(np.array(list("ACGT")), len(positions))
                alts = np.array([rng.choice([b for b in "ACGT" if b != r]) for r in refs])
                info = _annotations(positions, genes, rng)
                summary.annotated += sum(i != "." for i in info)
                dosage = calls.sum(axis=2)
                freq = dosage.mean(axis=1) / 2
                info = _benign_when_common(info, freq)
                low, high = candidate_maf
                common = (freq >= low) & (freq <= high)
                drawn = np.zeros(len(positions), dtype=bool)
                for i in np.flatnonzero(common):
                    if len(summary.candidates) < max_candidates and rng.random() < 0.05:
                        summary.candidates.append(
                            CausalCandidate(
                                chrom, int(positions[i]), refs[i], alts[i], dosage[i].copy()
                            )
                        )
                        drawn[i] = True
                reserve.offer(chrom, positions, refs, alts, dosage, common, drawn)
                missing = rng.random(calls.shape[:2]) < spec.missing_rate
                bgzip.stdin.write(_format(chrom, positions, refs, alts, info, calls, missing))
                summary.variants += len(positions)
                if progress:
                    progress(len(positions))
        bgzip.stdin.close()
        if bgzip.wait() != 0:
            raise RuntimeError("bgzip failed")
    if len(summary.candidates) < CAUSAL_VARIANTS:  # a small cohort: top up from the reserve
        spare = reserve.best(CAUSAL_VARIANTS - len(summary.candidates))
        rank = {name: k for k, (name, _) in enumerate(contigs)}
        summary.candidates = sorted(
            [*summary.candidates, *spare], key=lambda c: (rank[c.contig], c.position)
        )
    subprocess.run([_tool("tabix"), "-f", "-p", "vcf", str(tmp)], check=True)
    Path(str(tmp) + ".tbi").replace(str(path) + ".tbi")
    tmp.replace(path)
    return summary
