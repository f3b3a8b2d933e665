"""VCF ingest agrees with bcftools (an independent reader) on samples, positions, alleles,
genotypes and allele counts, for a generated VCF and for real, externally produced VCFs; bad
input names file, line and sample and registers nothing; the parsing kernel agrees with a plain
reference implementation."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tests.world import World
from wgs_tre.backends.vcf_text import parse_records, parse_records_reference
from wgs_tre.backends.vcf_zarr import open_vcf_zarr
from wgs_tre.errors import InvalidInput
from wgs_tre.governance import datasets
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.store.models import dataset_participant
from wgs_tre.synth.genotypes import GenotypeSpec, write_vcf

# Real VCFs shipped by Debian's python-pyvcf-examples: a 1000 Genomes pilot excerpt (629
# samples, seven FORMAT fields, a contig missing from the header) and the VCF 4.0 spec example.
PYVCF = Path("/usr/share/doc/python3-vcf/test")
REAL = [PYVCF / "1kg.vcf.gz", PYVCF / "example-4.0.vcf"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vcf") / "cohort.vcf.gz"
    spec = GenotypeSpec(samples=150, variants=23_456, contigs=3, seed=3)
    write_vcf(path, spec, sample_ids=[f"P{i:06d}" for i in range(1, 151)])
    return path


def bcftools(*args: str) -> str:
    result = subprocess.run(["bcftools", *args], capture_output=True, text=True, check=True)
    return result.stdout


def oracle_genotypes(path: Path) -> np.ndarray:
    """(variants, samples, 2) allele indices as bcftools decodes them; -1 missing, -2 haploid."""
    rows = bcftools("query", "-f", "[%GT\t]\n", str(path)).splitlines()
    out = []
    for row in rows:
        calls = []
        for gt in row.rstrip("\t").split("\t"):
            alleles = [-1 if a == "." else int(a) for a in gt.replace("|", "/").split("/")]
            calls.append([*alleles, -2][:2])
        out.append(calls)
    return np.array(out, dtype=np.int8)


def ingest(world: World, path: Path, name: str = "wgs") -> datasets.DatasetVersionView:
    return ingest_vcf(world.ctx("sam"), path, name, root=world.tmp / "datasets")


@pytest.mark.parametrize("source", ["synthetic", *REAL], ids=lambda s: Path(str(s)).name)
def test_ingest_agrees_with_bcftools(world: World, synthetic: Path, source: str | Path) -> None:
    path = synthetic if source == "synthetic" else Path(source)
    version = ingest(world, path)
    ds = open_vcf_zarr(version.uri)
    assert list(ds.sample_id.values) == bcftools("query", "-l", str(path)).split()
    fixed = [
        line.split("\t")
        for line in bcftools("query", "-f", "%CHROM\t%POS\t%REF\t%ALT\n", str(path)).splitlines()
    ]
    contigs = ds.contig_id.values
    assert [contigs[i] for i in ds.variant_contig.values] == [f[0] for f in fixed]
    assert ds.variant_position.values.tolist() == [int(f[1]) for f in fixed]
    alleles = ds.variant_allele.values
    assert [a[0] for a in alleles] == [f[2] for f in fixed]
    assert [",".join(x for x in a[1:] if x) or "." for a in alleles] == [f[3] for f in fixed]
    np.testing.assert_array_equal(ds.call_genotype.values, oracle_genotypes(path))


def test_allele_counts_match_bcftools_fill_tags(world: World, synthetic: Path) -> None:
    ds = open_vcf_zarr(ingest(world, synthetic).uri)
    tagged = subprocess.run(
        f"bcftools +fill-tags {synthetic} -- -t AC,AN | bcftools query -f '%AC\\t%AN\\n'",
        shell=True, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    expected = np.array([line.split("\t") for line in tagged.splitlines()], dtype=int)
    g = ds.call_genotype.values
    assert (g == 1).sum(axis=(1, 2)).tolist() == expected[:, 0].tolist()
    assert (g >= 0).sum(axis=(1, 2)).tolist() == expected[:, 1].tolist()


def test_the_version_is_registered_with_its_participants(world: World, synthetic: Path) -> None:
    version = ingest(world, synthetic, "release")
    assert (version.label, version.kind) == ("release@1", "variants")
    assert Path(version.uri).name.startswith("v1-")
    assert datasets.verify_version(world.ctx("sam"), "release@1") == []
    with world.store.session() as session:
        rows = session.execute(select(dataset_participant)).all()
    assert sorted(p for _, p in rows) == [f"P{i:06d}" for i in range(1, 151)]
    assert not list((world.tmp / "datasets" / "release").glob(".ingest-*"))


BAD = [
    (b"1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0|1\t0|x\n", "line 3, sample S2: malformed GT value"),
    (b"1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0|1\n", "line 3, sample S2: fewer sample columns"),
    (b"1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0|1\t1|1\t0|0\n", "line 3: more sample columns"),
    (b"1\tabc\t.\tA\tG\t.\tPASS\t.\tGT\t0|1\t1|1\n", "line 3: POS is not a positive integer"),
    (
        b"1\t100\t.\tA\tG\t.\tPASS\t.\tDP:GT\t3:0|1\t4:1|1\n",
        "line 3: FORMAT does not start with GT",
    ),
    (b"1\t100\t.\tA\tG\n", "line 3: fewer than 9 columns"),
    (b"1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0|1\t0/1/1\n", "line 3, sample S2: more than 2 alleles"),
]
HEADER = b"##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"


@pytest.mark.parametrize(("record", "message"), BAD, ids=[m.split(": ")[-1] for _, m in BAD])
def test_malformed_records_are_named_and_nothing_is_registered(
    world: World, record: bytes, message: str
) -> None:
    path = world.tmp / "bad.vcf"
    path.write_bytes(HEADER + record)
    before = world.counts()
    with pytest.raises(InvalidInput) as error:
        ingest(world, path)
    assert error.value.message == f"bad.vcf {message}" or message in error.value.message
    assert error.value.message.startswith("bad.vcf line 3")
    assert world.counts() == before
    assert not (world.tmp / "datasets").exists(), "a refused ingest left a directory behind"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello\n", "bad.vcf line 1: not a VCF"),
        (b"##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n", "no samples"),
        (b"##fileformat=VCFv4.3\n", "ends before the #CHROM header line"),
        (HEADER.replace(b"S2", b"S1"), "sample 2 .*'S1' is also sample 1 .* must be unique"),
        (HEADER.replace(b"\n#", b"\n##contig=<ID=1,length=x>\n#"), "line 2: ##contig 1: length"),
        (HEADER.replace(b"\n#", b"\n##INFO=<ID=X,Number>\n#"), "'Number' is not KEY=VALUE"),
        (HEADER.replace(b"S2", b"S\x01"), r"sample 2 \(column 11\).*control character"),
        (HEADER.replace(b"\n", b"\r\n"), "line 2: Windows line endings"),
    ],
)
def test_bad_headers_are_explained(world: World, content: bytes, message: str) -> None:
    path = world.tmp / "bad.vcf"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        ingest(world, path)


def test_kernel_matches_the_reference_parser() -> None:
    rng = np.random.default_rng(0)
    lines = []
    for i in range(300):
        calls = []
        for _ in range(7):
            kind = rng.integers(0, 6)
            a, b = rng.integers(0, 12, 2)
            calls.append([f"{a}|{b}", f"{a}/{b}", "./.", f"{a}", f"{a}|{b}:35:.,1", ".|."][kind])
        fmt = "GT:DP:PL" if rng.random() < 0.5 else "GT"
        lines.append(f"chr1\t{i + 1}\t.\tA\tC\t.\tPASS\t.\t{fmt}\t" + "\t".join(calls) + "\n")
    text = "".join(lines).encode()
    buf = np.frombuffer(text, dtype=np.uint8)
    starts = np.concatenate([[0], np.flatnonzero(buf == 10) + 1]).astype(np.int64)
    n = len(lines)
    genotypes = np.empty((n, 7, 2), np.int8)
    phased = np.empty((n, 7), bool)
    positions = np.empty(n, np.int32)
    fields = np.empty((n, 9, 2), np.int64)
    err = np.zeros(3, np.int64)
    assert parse_records(buf, starts, 7, genotypes, phased, positions, fields, err) == n
    ref_g, ref_p, ref_pos = parse_records_reference([x.encode() for x in lines], 7)
    np.testing.assert_array_equal(genotypes, ref_g)
    np.testing.assert_array_equal(positions, ref_pos)
    np.testing.assert_array_equal(phased, ref_p)


def test_a_truncated_bgzip_file_is_refused(world: World, synthetic: Path) -> None:
    path = world.tmp / "cut.vcf.gz"
    path.write_bytes(synthetic.read_bytes()[: synthetic.stat().st_size // 2])
    before = world.counts()
    with pytest.raises(InvalidInput, match="cut.vcf.gz"):
        ingest(world, path)
    assert world.counts() == before


@pytest.mark.parametrize("form", ["bgzip", "plain", "gzip without bgzip"])
def test_progress_counts_the_file_read_up_to_its_size(
    world: World, synthetic: Path, form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress is the share of the file (as stored: compressed or not) read so far, so a
    progress bar can show a total and a time remaining."""
    path = synthetic
    if form != "bgzip":
        text = subprocess.run(["bgzip", "-dc", str(synthetic)], capture_output=True, check=True)
        path = tmp_path / ("cohort.vcf" if form == "plain" else "cohort.vcf.gz")
        path.write_bytes(text.stdout if form == "plain" else gzip.compress(text.stdout))
    if form == "gzip without bgzip":
        monkeypatch.setattr("wgs_tre.backends.vcf.shutil.which", lambda _: None)
    monkeypatch.setattr("wgs_tre.backends.vcf.READ_SIZE", 1 << 20)  # several chunks
    seen: list[int] = []
    version = ingest_vcf(world.ctx("sam"), path, "wgs", root=world.tmp / "datasets",
                         progress=seen.append)  # fmt: skip
    assert open_vcf_zarr(Path(version.uri)).sizes["variants"] == 23_456
    assert len(seen) >= 3 and seen == sorted(seen)
    assert 0 < seen[0] < path.stat().st_size and seen[-1] == path.stat().st_size
