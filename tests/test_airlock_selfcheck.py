"""The self-check on every kind of file a researcher may submit (issue 17, item 2): a table saved
with its record of checks, a GWAS summary-statistic file, and any other table, each with known
answers computed here independently (plain pandas arithmetic on the data the file was made
from)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wgs_tre.airlock import CheckedTable, RuleId, crosstab, load_table, self_check
from wgs_tre.errors import InvalidInput


def people(n: int, seed: int = 17) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "region": rng.integers(0, 30, n),  # numeric labels
            "band": rng.choice(["18-39", "40-64", "65+"], n),
            "weight": rng.normal(80, 10, n),
        }
    )


def test_a_table_with_numeric_labels_is_checked_again_from_its_record(tmp_path: Path) -> None:
    """Labels such as 0..29 are written as text; read back, they must still be the record's
    (pandas parses an index column of digits as numbers)."""
    data = people(2_000)
    table = crosstab(data, "region", "band")
    path = tmp_path / "by_region.csv"
    table.save(path)
    assert load_table(path) == table
    expected = pd.crosstab(data.region, data.band)  # the independent tabulation
    below = {
        (str(r), str(c))
        for r in expected.index
        for c in expected.columns
        if expected.loc[r, c] < 10
    }
    found = {c for f in self_check(path).findings for c in f.cells}
    assert found == below and all(
        f.rule in (RuleId.THRESHOLD, RuleId.ZEROS) for f in self_check(path).findings
    )


def test_suppress_also_blanks_cells_named_by_another_check() -> None:
    table = crosstab(people(2_000), "region", "band")
    fixed = table.suppress(also=[("3", "65+")])
    assert ("3", "65+") in fixed.suppressed and np.isnan(fixed.table.loc["3", "65+"])
    with pytest.raises(InvalidInput, match=r"not cells of this table: \(99, 65\+\)"):
        table.suppress(also=[("99", "65+")])
    assert isinstance(fixed, CheckedTable)


# --- GWAS summary statistics: plink2's own .glm.linear as the file ------------------------

SAMPLES = 300  # 600 alleles per variant
# Alternate-allele counts chosen around the threshold of 20 minor alleles, from both sides
# (581 alternate alleles leave 19 of the reference allele), the rest drawn at random.
ALT_COUNTS = [1, 5, 19, 20, 21, 581, 580, 579, 300, 40]


def genotypes(seed: int = 3) -> np.ndarray:
    """Variants x samples alternate-allele counts (0, 1, 2)."""
    rng = np.random.default_rng(seed)
    counts = ALT_COUNTS + list(rng.integers(1, 600, 30))
    rows = []
    for k in counts:
        alleles = np.zeros(2 * SAMPLES, dtype=int)
        alleles[rng.choice(2 * SAMPLES, k, replace=False)] = 1
        rows.append(alleles.reshape(SAMPLES, 2).sum(axis=1))
    return np.array(rows)


def plink_glm(tmp_path: Path, calls: np.ndarray, cols: str) -> Path:
    """A linear GWAS by plink2 on these genotypes and a random phenotype: its .glm.linear."""
    from tests.plink import plink2

    rng = np.random.default_rng(5)
    samples = [f"S{j:04d}" for j in range(calls.shape[1])]
    gt = np.array(["0/0", "0/1", "1/1"])[calls]
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=1>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"])
        + "\t"
        + "\t".join(samples),
    ]
    lines += [
        f"1\t{1000 + i}\trs{i}\tA\tG\t.\tPASS\t.\tGT\t" + "\t".join(gt[i])
        for i in range(calls.shape[0])
    ]
    (tmp_path / "cohort.vcf").write_text("\n".join(lines) + "\n")
    pheno = "".join(f"{s}\t{rng.normal():.4f}\n" for s in samples)
    (tmp_path / "pheno.txt").write_text("#IID\ty\n" + pheno)
    plink2(
        "--vcf", "cohort.vcf", "--pheno", "pheno.txt", "--glm", "allow-no-covars",
        f"cols=+{cols}", "--out", "gwas", cwd=tmp_path,
    )  # fmt: skip
    return tmp_path / "gwas.y.glm.linear"


def low_mac_variants(calls: np.ndarray, threshold: int = 20) -> list[str]:
    """The variants carried by fewer than ``threshold`` minor alleles, from the genotypes."""
    alt = calls.sum(axis=1)
    minor = np.minimum(alt, 2 * calls.shape[1] - alt)
    return [f"rs{i}" for i in np.flatnonzero(minor < threshold)]


@pytest.mark.parametrize("cols", ["a1freq", "a1count"])
def test_a_plink2_glm_file_names_exactly_the_variants_below_twenty(
    tmp_path: Path, cols: str
) -> None:
    calls = genotypes()
    path = plink_glm(tmp_path, calls, cols)
    expected = low_mac_variants(calls)
    # By hand: minor-allele counts 1, 5, 19 and 19 (581 of 600) fail; 20, 21, 20, 21 pass.
    assert {"rs0", "rs1", "rs2", "rs5"} <= set(expected)
    assert not {"rs3", "rs4", "rs6", "rs7"} & set(expected)
    report = self_check(path)
    (finding,) = report.findings
    assert finding.rule is RuleId.MINOR_ALLELE_COUNT
    assert [name for name, _ in finding.cells] == expected


@pytest.mark.parametrize(
    ("name", "sep", "compression"),
    [("gwas.csv.gz", ",", "gzip"), ("gwas.txt", " ", None), ("gwas.parquet", None, None)],
)
def test_a_summary_file_in_another_layout_is_recognised_by_its_columns(
    tmp_path: Path, name: str, sep: str | None, compression: str | None
) -> None:
    calls = genotypes(seed=11)
    glm = pd.read_csv(plink_glm(tmp_path, calls, "a1count"), sep="\t")
    path = tmp_path / name
    if sep is None:
        glm.to_parquet(path)
    else:
        glm.to_csv(path, sep=sep, index=False, compression=compression)
    (finding,) = self_check(path).findings
    assert finding.rule is RuleId.MINOR_ALLELE_COUNT
    assert [v for v, _ in finding.cells] == low_mac_variants(calls)


def test_a_per_sample_genotype_column_and_an_id_like_column_are_named(tmp_path: Path) -> None:
    calls = genotypes()
    glm = pd.read_csv(plink_glm(tmp_path, calls, "a1freq"), sep="\t")
    glm["S0007"] = calls[:, 7]  # one sample's genotypes, as 0/1/2
    glm["carrier"] = [f"P{100_000 + i}" for i in range(len(glm))]  # a pseudonym per row
    path = tmp_path / "with_samples.glm.linear"
    glm.to_csv(path, sep="\t", index=False)
    by_rule = {f.rule: f.cells for f in self_check(path).findings}
    assert [v for v, _ in by_rule[RuleId.MINOR_ALLELE_COUNT]] == low_mac_variants(calls)
    assert by_rule[RuleId.PER_SAMPLE] == (("all rows", "S0007"),)
    assert by_rule[RuleId.ID_COLUMN] == (("all rows", "carrier"),)
    assert RuleId.ROW_LEVEL not in by_rule  # a row per variant is what such a file is


# --- any other table, and files that are not tables ---------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_a_table_without_a_record_gets_the_row_level_checks_and_says_so(
    tmp_path: Path, suffix: str
) -> None:
    data = people(1_500).assign(participant_id=[f"P{i:06d}" for i in range(1_500)])
    path = tmp_path / f"extract{suffix}"
    if suffix == ".parquet":
        data.to_parquet(path)
    else:
        data.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    findings = self_check(path).findings
    assert [f.rule for f in findings] == [RuleId.ROW_LEVEL, RuleId.ID_COLUMN, RuleId.EVIDENCE]
    assert f"{len(data)} rows" in findings[0].message
    assert findings[1].cells == (("all rows", "participant_id"),)
    assert "no record of checks" in findings[2].message

    # An aggregate without a record: no row-level finding, only the missing record.
    small = data.groupby("band", as_index=False).weight.mean()
    small.to_csv(tmp_path / "means.csv", index=False)
    (finding,) = self_check(tmp_path / "means.csv").findings
    assert finding.rule is RuleId.EVIDENCE and "crosstab" in finding.message


def test_a_file_that_is_not_a_table_is_left_to_a_steward(tmp_path: Path) -> None:
    path = tmp_path / "figure.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (finding,) = self_check(path).findings
    assert finding.rule is RuleId.EVIDENCE and "not a table the checks can read" in finding.message


def test_a_damaged_gzip_file_is_left_to_a_steward(tmp_path: Path) -> None:
    text = "a,b\n" + "".join(f"{i},{i * 7}\n" for i in range(100_000))
    packed = gzip.compress(text.encode())
    damaged = bytearray(packed)
    damaged[200:260] = bytes(60)  # zeros in the middle of the deflate stream
    for name, content in (("cut.csv.gz", packed[: len(packed) // 2]), ("bad.csv.gz", damaged)):
        (tmp_path / name).write_bytes(bytes(content))
        (finding,) = self_check(tmp_path / name).findings
        assert finding.rule is RuleId.EVIDENCE, finding
        assert "not a table the checks can read" in finding.message
