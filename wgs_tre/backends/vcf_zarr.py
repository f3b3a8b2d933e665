"""VCF Zarr: writing chunked variant arrays, and opening them lazily as an xarray Dataset.

Zarr format 3 with ``dimension_names`` (which xarray reads), sgkit / VCF Zarr variable names
(see ``wgs_tre.variables``). Genotypes are chunked ``CHUNK_VARIANTS`` x ``CHUNK_SAMPLES`` so a
chunk is a few MB in memory, and compressed with Blosc zstd + bit shuffle (small integers pack
well).
``call_dosage_packed`` (see ``wgs_tre.backends.packed``) is derived from ``call_genotype`` as
it is written: the compact form analyses read.
Writes are appended chunk by chunk and compressed on a background thread, so memory stays
bounded whatever the number of variants.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec

from wgs_tre.backends.packed import pack_dosages, packed_width
from wgs_tre.backends.vcf import ANNOTATIONS, VcfChunk, VcfHeader
from wgs_tre.variables import SPECS

__all__ = [
    "CHUNK_SAMPLES",
    "CHUNK_VARIANTS",
    "PACKED_COMPRESSOR",
    "VcfZarrWriter",
    "open_vcf_zarr",
]

CHUNK_VARIANTS = 10_000
CHUNK_SAMPLES = 1_000
FORMAT_VERSION = "wgs-tre-vcfzarr-1"
# zstd level 1: within a few percent of level 5's size on genotypes, at twice the speed.
_COMPRESSOR = BloscCodec(cname="zstd", clevel=1, shuffle="bitshuffle")
# Packed dosages are read by every analysis: lz4 decodes them 3-5x faster than zstd, for a
# store about 50% larger (still a tenth of call_genotype's).
PACKED_COMPRESSOR = BloscCodec(cname="lz4", clevel=9, shuffle="noshuffle")


class VcfZarrWriter:
    """Append :class:`VcfChunk` objects; ``close()`` writes the per-contig arrays and metadata."""

    def __init__(self, path: Path, header: VcfHeader, *, source: str = "") -> None:
        self.header = header
        self.root = zarr.open_group(str(path), mode="w-", zarr_format=3)
        n = len(header.samples)
        cs = min(CHUNK_SAMPLES, n)
        cv = CHUNK_VARIANTS
        self.arrays: dict[str, Any] = {
            "call_genotype": self._array("call_genotype", (0, n, 2), (cv, cs, 2), np.int8, -1),
            "call_genotype_phased": self._array(
                "call_genotype_phased", (0, n), (cv, cs), bool, False
            ),
            # Whole rows per chunk: a view reorders samples within a row.
            "call_dosage_packed": self._array(
                "call_dosage_packed", (0, packed_width(n)), (cv, packed_width(n)), np.uint8, 0
            ),
            "variant_contig": self._array("variant_contig", (0,), (cv,), np.int16, 0),
            "variant_position": self._array("variant_position", (0,), (cv,), np.int32, 0),
            "variant_id": self._array("variant_id", (0,), (cv,), str, ""),
            "variant_allele": self._array("variant_allele", (0, 2), (cv, 2), str, ""),
        }
        for key in ANNOTATIONS:
            if key in header.info:
                name = f"variant_{key}"
                self.arrays[name] = self._array(name, (0,), (cv,), str, "")
        sample_id = self._array("sample_id", (n,), (n,), str, "")
        sample_id[:] = np.array(header.samples, dtype=object)
        self.root.attrs.update({"source": source, "format": FORMAT_VERSION})
        self._pending: list[VcfChunk] = []
        self._rows = 0
        self._queue: queue.Queue[dict[str, np.ndarray] | None] = queue.Queue(maxsize=2)
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._write_loop, daemon=True)
        self._thread.start()

    def _array(
        self, name: str, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: Any, fill: Any
    ) -> Any:
        numeric = dtype is not str
        return self.root.create_array(
            name,
            shape=shape,
            chunks=chunks,
            dtype=dtype,
            fill_value=fill,
            compressors=[self._compressor(name)] if numeric else "auto",
            dimension_names=list(SPECS[name].dims),
        )

    @staticmethod
    def _compressor(name: str) -> BloscCodec:
        return PACKED_COMPRESSOR if name == "call_dosage_packed" else _COMPRESSOR

    # -- writing ------------------------------------------------------------------------------
    def append(self, chunk: VcfChunk) -> None:
        self._pending.append(chunk)
        self._rows += len(chunk)
        while self._rows >= CHUNK_VARIANTS:
            self._flush(CHUNK_VARIANTS * (self._rows // CHUNK_VARIANTS))

    def _flush(self, rows: int) -> None:
        """Hand the first ``rows`` pending variants (a whole number of chunks) to the writer."""
        merged = _concat(self._pending)
        head = {k: v[:rows] for k, v in merged.items()}
        tail = {k: v[rows:] for k, v in merged.items()}
        self._pending = [_chunk_from(tail)] if len(tail["variant_position"]) else []
        self._rows -= rows
        if self._failure:
            raise self._failure
        self._queue.put(head)

    def _write_loop(self) -> None:
        while (block := self._queue.get()) is not None:
            if self._failure:
                continue
            try:
                alleles = block["variant_allele"]
                array = self.arrays["variant_allele"]
                if alleles.shape[1] > array.shape[1]:
                    array.resize((array.shape[0], alleles.shape[1]))
                elif alleles.shape[1] < array.shape[1]:
                    pad = np.full((len(alleles), array.shape[1]), "", dtype=object)
                    pad[:, : alleles.shape[1]] = alleles
                    block["variant_allele"] = pad
                block["call_dosage_packed"] = pack_dosages(block["call_genotype"])
                for name, values in block.items():
                    if name in self.arrays:
                        self.arrays[name].append(values, axis=0)
            except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                self._failure = exc

    def close(self) -> int:
        """Write what is left and the contig table; return the number of variants written."""
        if self._rows:
            self._flush(self._rows)
        self._queue.put(None)
        self._thread.join()
        if self._failure:
            raise self._failure
        contigs = self.header.contigs
        ids = self._array("contig_id", (len(contigs),), (max(len(contigs), 1),), str, "")
        ids[:] = np.array([c for c, _ in contigs], dtype=object)
        lengths = self._array(
            "contig_length", (len(contigs),), (max(len(contigs), 1),), np.int64, -1
        )
        lengths[:] = np.array([length or -1 for _, length in contigs], dtype=np.int64)
        total = int(self.arrays["variant_position"].shape[0])
        self.root.attrs["variants"] = total
        return total

    def abort(self) -> None:
        self._queue.put(None)
        self._thread.join()


def _concat(chunks: list[VcfChunk]) -> dict[str, np.ndarray]:
    width = max(c.alleles.shape[1] for c in chunks)
    alleles = []
    for c in chunks:
        block = np.full((len(c), width), "", dtype=object)
        block[:, : c.alleles.shape[1]] = c.alleles
        alleles.append(block)
    merged = {
        "call_genotype": np.concatenate([c.genotypes for c in chunks]),
        "call_genotype_phased": np.concatenate([c.phased for c in chunks]),
        "variant_contig": np.concatenate([c.contig for c in chunks]),
        "variant_position": np.concatenate([c.position for c in chunks]),
        "variant_id": np.concatenate([c.variant_id for c in chunks]),
        "variant_allele": np.concatenate(alleles),
    }
    for key in chunks[0].annotations:
        merged[f"variant_{key}"] = np.concatenate([c.annotations[key] for c in chunks])
    return merged


def _chunk_from(arrays: dict[str, np.ndarray]) -> VcfChunk:
    return VcfChunk(
        contig=arrays["variant_contig"],
        position=arrays["variant_position"],
        variant_id=arrays["variant_id"],
        alleles=arrays["variant_allele"],
        genotypes=arrays["call_genotype"],
        phased=arrays["call_genotype_phased"],
        annotations={
            k.removeprefix("variant_"): v
            for k, v in arrays.items()
            if k.removeprefix("variant_") in ANNOTATIONS
        },
    )


def open_vcf_zarr(path: Path | str) -> xr.Dataset:
    """Open a VCF Zarr store lazily (dask arrays, nothing read but metadata)."""
    ds: xr.Dataset = xr.open_zarr(str(path), consolidated=False, chunks={}, zarr_format=3)
    return ds
