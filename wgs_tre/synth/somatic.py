"""Tumour (somatic) calls for the cohort's cancer cases, as a tumour-normal caller reports them.

One VCF, one sample per cancer participant (named by the participant id: the tumour of that
person), rows the union of the tumours' calls: ``0/1`` where a tumour carries the variant,
``0/0`` where it does not. Each tumour carries drivers drawn from its cancer's recurrent hotspots
(:data:`HOTSPOTS`: real protein changes at their GRCh38 positions, with rough frequencies) and a
few passenger mutations near the same genes. INFO holds ``GENE``, ``CSQ`` and ``HGVSP`` (the
protein change; empty for passengers, whose effect is unknown).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wgs_tre.synth.genotypes import _tool
from wgs_tre.synth.outcomes import Participant

__all__ = ["HOTSPOTS", "Hotspot", "write_somatic"]

# GRCh38 lengths of the contigs the hotspots lie on.
CONTIGS = {"chr3": 198_295_559, "chr7": 159_345_973, "chr12": 133_275_309, "chr17": 83_257_441}


@dataclass(frozen=True)
class Hotspot:
    gene: str
    protein: str  # HGVS protein change
    contig: str
    position: int  # GRCh38, 1-based
    ref: str
    alt: str


KRAS_G12C = Hotspot("KRAS", "p.Gly12Cys", "chr12", 25_245_351, "C", "A")
KRAS_G12D = Hotspot("KRAS", "p.Gly12Asp", "chr12", 25_245_350, "C", "T")
KRAS_G12V = Hotspot("KRAS", "p.Gly12Val", "chr12", 25_245_350, "C", "A")
EGFR_L858R = Hotspot("EGFR", "p.Leu858Arg", "chr7", 55_191_822, "T", "G")
BRAF_V600E = Hotspot("BRAF", "p.Val600Glu", "chr7", 140_753_336, "A", "T")
PIK3CA_H1047R = Hotspot("PIK3CA", "p.His1047Arg", "chr3", 179_234_297, "A", "G")
PIK3CA_E545K = Hotspot("PIK3CA", "p.Glu545Lys", "chr3", 179_218_303, "G", "A")
TP53_R273H = Hotspot("TP53", "p.Arg273His", "chr17", 7_673_802, "C", "T")
TP53_R175H = Hotspot("TP53", "p.Arg175His", "chr17", 7_675_088, "C", "T")

# Per cancer (ICD-10 category): hotspots and how often a tumour carries each.
HOTSPOTS: dict[str, list[tuple[Hotspot, float]]] = {
    "C34": [(EGFR_L858R, 0.15), (KRAS_G12C, 0.13), (KRAS_G12D, 0.05), (BRAF_V600E, 0.02),
            (TP53_R273H, 0.1), (TP53_R175H, 0.1)],
    "C18": [(KRAS_G12D, 0.15), (KRAS_G12C, 0.03), (BRAF_V600E, 0.1), (PIK3CA_E545K, 0.1),
            (TP53_R175H, 0.2)],
    "C50": [(PIK3CA_H1047R, 0.2), (PIK3CA_E545K, 0.1), (TP53_R273H, 0.1)],
    "C61": [(TP53_R273H, 0.1), (PIK3CA_E545K, 0.03)],
    "C25": [(KRAS_G12D, 0.4), (KRAS_G12V, 0.3), (TP53_R175H, 0.2)],
}  # fmt: skip
PASSENGER_CONSEQUENCES = ("missense_variant", "synonymous_variant")


def _tumour_calls(
    p: Participant, rng: np.random.Generator
) -> set[tuple[str, int, str, str, str, str]]:
    """(contig, position, ref, alt, gene, consequence:protein) of one tumour's calls."""
    calls = set()
    hotspots = HOTSPOTS.get(p.diagnosis[:3], [])
    for spot, frequency in hotspots:
        if rng.random() < frequency:
            calls.add((spot.contig, spot.position, spot.ref, spot.alt, spot.gene,
                       f"missense_variant:{spot.protein}"))  # fmt: skip
    for _ in range(int(rng.integers(1, 5)) if hotspots else 0):
        spot = hotspots[int(rng.integers(len(hotspots)))][0]
        position = spot.position + int(rng.integers(-20_000, 20_000))
        ref, alt = rng.choice(list("ACGT"), 2, replace=False)
        consequence = PASSENGER_CONSEQUENCES[int(rng.integers(2))]
        calls.add((spot.contig, position, str(ref), str(alt), spot.gene, f"{consequence}:"))
    return calls


def write_somatic(path: Path, participants: Sequence[Participant], *, seed: int) -> Path | None:
    """The cancer cases' tumour calls as a bgzipped, indexed VCF (None: no cancer case)."""
    rng = np.random.default_rng(
        [seed, 2]
    )  # a stream of its own: the rest of the cohort is unchanged
    tumours = [p for p in participants if p.is_cancer]
    if not tumours:
        return None
    drawn = [_tumour_calls(p, rng) for p in tumours]
    # One row per variant (a passenger drawn twice keeps its first annotation).
    first: dict[tuple[str, int, str, str], tuple[str, int, str, str, str, str]] = {}
    for row in sorted(set().union(*drawn)):
        first.setdefault(row[:4], row)
    carried = [{first[r[:4]] for r in own} for own in drawn]
    rows = sorted(first.values(), key=lambda r: (list(CONTIGS).index(r[0]), r[1], r[3]))
    lines = [
        "##fileformat=VCFv4.3",
        "##source=wgs-tre synthetic tumour calls (tumour-normal)",
        *(f"##contig=<ID={name},length={length}>" for name, length in CONTIGS.items()),
        '##INFO=<ID=GENE,Number=1,Type=String,Description="Gene symbol">',
        '##INFO=<ID=CSQ,Number=1,Type=String,Description="Most severe consequence (SO term)">',
        '##INFO=<ID=HGVSP,Number=1,Type=String,Description="Protein change (HGVS)">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                   *(p.id for p in tumours)]),
    ]  # fmt: skip
    for row in rows:
        contig, position, ref, alt, gene, effect = row
        consequence, protein = effect.split(":", 1)
        info = f"GENE={gene};CSQ={consequence}" + (f";HGVSP={protein}" if protein else "")
        calls = ["0/1" if row in own else "0/0" for own in carried]
        lines.append("\t".join([contig, str(position), ".", ref, alt, ".", "PASS", info, "GT",
                                *calls]))  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("wb") as out:
        subprocess.run([_tool("bgzip"), "-c"], input=("\n".join(lines) + "\n").encode(),
                       stdout=out, check=True)  # fmt: skip
    subprocess.run([_tool("tabix"), "-f", "-p", "vcf", str(tmp)], check=True)
    Path(str(tmp) + ".tbi").replace(str(path) + ".tbi")
    tmp.replace(path)
    return path
