"""Gene index from GTF and BED files: nearest and overlapping genes, chromosome names, errors."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from gwasflow.report.loci.genes import Gene, GeneFileError, GeneIndex, load_genes, normalize_chrom

GTF = Path(__file__).resolve().parents[2] / "data" / "genes_test.gtf"


def _gtf_genes() -> list[tuple[str, str, int, int, str]]:
    out = []
    for line in GTF.read_text().splitlines():
        fields = line.split("\t")
        if len(fields) == 9 and fields[2] == "gene":
            name = fields[8].split('gene_name "')[1].split('"')[0]
            out.append((name, fields[0], int(fields[3]), int(fields[4]), fields[6]))
    return out


def test_load_genes__reads_only_gene_records_of_the_test_gtf() -> None:
    index = load_genes(GTF)
    assert index.n_genes == len(_gtf_genes()) == 30
    name, chrom, start, end, strand = _gtf_genes()[4]
    [gene] = index.overlapping(chrom, start, start)
    assert (gene.name, gene.start, gene.end, gene.strand) == (name, start, end, strand)
    assert gene.biotype in ("protein_coding", "lncRNA")


def test_gene_index_nearest__inside_between_and_outside() -> None:
    index = load_genes(GTF)
    genes = [g for g in _gtf_genes() if g[1] == "chr2"]
    first, second = genes[0], genes[1]
    assert index.nearest("2", (first[2] + first[3]) // 2) == (first[0], 0)
    assert index.nearest("2", first[2]) == (first[0], 0)  # boundaries are inside (1-based, inclusive)
    assert index.nearest("2", first[2] - 100) == (first[0], 100)
    near_second = second[2] - 10
    assert index.nearest("2", near_second) == (second[0], 10)
    assert index.nearest("2", first[3] + 7) == (first[0], 7)
    last = genes[-1]
    assert index.nearest("chr2", last[3] + 1_000_000) == (last[0], 1_000_000)
    assert index.nearest("7", 1000) is None  # no genes on that chromosome


def test_gene_index_nearest__brute_force_agrees() -> None:
    index = load_genes(GTF)
    genes = _gtf_genes()
    for chrom in ("chr1", "chr3"):
        mine = [g for g in genes if g[1] == chrom]
        for pos in range(1, 1_600_000, 7_919):
            expected = min(max(g[2] - pos, pos - g[3], 0) for g in mine)
            name, distance = index.nearest(chrom, pos) or ("", -1)
            assert distance == expected
            assert any(g[0] == name and max(g[2] - pos, pos - g[3], 0) == expected for g in mine)


def test_gene_index_overlapping__interval_and_names() -> None:
    index = load_genes(GTF)
    genes = [g for g in _gtf_genes() if g[1] == "chr1"]
    a, b, c = genes[0], genes[1], genes[2]
    assert [g.name for g in index.overlapping("1", a[3], b[2])] == [a[0], b[0]]
    assert [g.name for g in index.overlapping("chr1", a[3] + 1, b[2] - 1)] == []
    assert [g.name for g in index.overlapping("1", a[2], c[3])] == [a[0], b[0], c[0]]


def test_normalize_chrom__ucsc_ensembl_and_regenie_names_agree() -> None:
    assert normalize_chrom("chr1") == normalize_chrom("1") == "1"
    assert normalize_chrom("chrX") == normalize_chrom("X") == normalize_chrom("23") == "X"
    assert normalize_chrom("chrM") == normalize_chrom("MT") == normalize_chrom("26") == "MT"
    assert normalize_chrom("01") == "1"


def test_load_genes__bed_gzipped(tmp_path: Path) -> None:
    path = tmp_path / "genes.bed.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("track name=genes\nchr5\t999\t2000\tALPHA\t0\t-\n5\t5000\t6000\tBETA\n")
    index = load_genes(path)
    assert index.nearest("5", 1000) == ("ALPHA", 0)  # BED start 999 (0-based) is base 1000
    assert index.nearest("5", 999) == ("ALPHA", 1)
    assert [(g.name, g.strand) for g in index.overlapping("chr5", 1, 10_000)] == [("ALPHA", "-"), ("BETA", ".")]


@pytest.mark.parametrize(("text", "message"), [
    ("chr1\tHAVANA\tgene\t100\tabc\t.\t+\t.\tgene_id \"G\";\n", "line 1: start '100' or end 'abc'"),
    ("chr1\t10\n", "line 1: 2 columns"),
    ("chr1\tHAVANA\tgene\t100\t200\t.\t+\t.\tlevel 2;\n", "line 1: gene record without gene_name"),
    ("chr1\tHAVANA\texon\t100\t200\t.\t+\t.\tgene_id \"G\";\n", "no gene records"),
    ("chr1\t500\t100\tX\n", "line 1: start 500 and end 100"),
])
def test_load_genes__bad_file_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.gtf"
    path.write_text(text)
    with pytest.raises(GeneFileError, match=message) as caught:
        load_genes(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_gene_index__60000_genes_load_and_query_quickly(tmp_path: Path) -> None:
    path = tmp_path / "big.gtf.gz"
    with gzip.open(path, "wt") as handle:
        for i in range(60_000):
            chrom, start = f"chr{i % 22 + 1}", 10_000 + (i // 22) * 90_000
            handle.write(f"{chrom}\tENSEMBL\tgene\t{start}\t{start + 30_000}\t.\t+\t.\t"
                         f'gene_id "ENSG{i}"; gene_name "G{i}"; gene_biotype "protein_coding";\n')
            handle.write(f"{chrom}\tENSEMBL\texon\t{start}\t{start + 300}\t.\t+\t.\tgene_id \"ENSG{i}\";\n")
    began = time.perf_counter()
    index = load_genes(path)
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    for k in range(20_000):
        index.nearest(str(k % 22 + 1), 5_000 + 13_337 * k % 250_000_000)
        index.overlapping(str(k % 22 + 1), 13_337 * k % 250_000_000, 13_337 * k % 250_000_000 + 500_000)
    queried = time.perf_counter() - began
    assert index.n_genes == 60_000
    assert loaded < 10.0 and queried < 5.0, f"load {loaded:.2f} s, 20,000 queries {queried:.2f} s"


def test_gene_index__from_genes_directly() -> None:
    index = GeneIndex([Gene("A", "1", 100, 200, "+", ""), Gene("B", "1", 150, 400, "-", "")])
    assert index.nearest("1", 175) in (("A", 0), ("B", 0))
    assert index.nearest("1", 300) == ("B", 0)
    assert index.nearest("1", 450) == ("B", 50)
    assert index.nearest("1", 50) == ("A", 50)
