"""A throw-away governed world for benchmarks: a store, a cohort ingested as ``wgs@1`` with
every participant consenting to general research, and one approved project ``bench``."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import xarray as xr

from wgs_tre.access import Gate
from wgs_tre.backends.vcf_zarr import open_vcf_zarr
from wgs_tre.config import Settings
from wgs_tre.consent import registry
from wgs_tre.consent.build import make_consent
from wgs_tre.duo import Purpose
from wgs_tre.governance import Context, review, users
from wgs_tre.governance import projects as project_ops
from wgs_tre.ingest.vcf import ingest_vcf
from wgs_tre.policy import load_policies
from wgs_tre.services.materialise import materialise
from wgs_tre.store import Store
from wgs_tre.synth.genotypes import GenotypeSpec, write_vcf
from wgs_tre.types import OrgType, Role, Vote

REPO = Path(__file__).resolve().parent.parent


def cohort_vcf(directory: Path, samples: int, variants: int, seed: int = 1) -> Path:
    """The benchmark cohort's VCF (1% missing calls), generated once per directory."""
    directory.mkdir(parents=True, exist_ok=True)
    vcf = directory / f"bench-{samples}x{variants}.vcf.gz"
    if not vcf.exists():
        print(f"generating {vcf.name} ...", flush=True)
        spec = GenotypeSpec(samples=samples, variants=variants, seed=seed, missing_rate=0.01)
        write_vcf(vcf, spec, sample_ids=sample_ids(samples))
    return vcf


def sample_ids(samples: int) -> list[str]:
    return [f"P{i:06d}" for i in range(1, samples + 1)]


def governed_world(state: Path, vcf: Path, samples: int) -> Settings:
    """Ingest ``vcf`` and approve project ``bench`` for researcher ``alice``; reuse if done."""

    def ingest(steward: Context, root: Path) -> list[str]:
        ingest_vcf(steward, vcf, "wgs", root=root)
        return ["wgs"]

    return approved_world(state, samples, ingest)


def approved_world(
    state: Path, samples: int, ingest: Callable[[Context, Path], list[str]]
) -> Settings:
    """A store with researcher ``alice`` and stewards ``sam`` and ``sue``; the datasets
    ``ingest(sam, root)`` registers (it names them) with every participant consenting to
    general research; project ``bench`` approved for them. Reused when ``state`` has one."""
    settings = Settings(data_dir=state, policy_dir=REPO / "policies")
    if (state / "ready").exists():
        return settings
    store = Store(settings.store_url)
    store.upgrade()
    users.bootstrap_admin(store, "admin", by="benchmark")
    policies = load_policies(settings.policy_dir)

    def ctx(actor: str) -> Context:
        return Context(store, policies, actor)

    users.create_organisation(ctx("admin"), "Uni", OrgType.ACADEMIC)
    users.create_organisation(ctx("admin"), "Centre", OrgType.ACADEMIC)
    users.create_user(ctx("admin"), "alice", roles={Role.RESEARCHER}, organisation="Uni")
    for steward in ("sam", "sue"):
        users.create_user(ctx("admin"), steward, roles={Role.STEWARD}, organisation="Centre")
    datasets = ingest(ctx("sam"), settings.data_dir / "datasets")
    consents = state / "consent.ndjson"
    consents.write_text("\n".join(json.dumps(make_consent(s)) for s in sample_ids(samples)))
    registry.import_file(ctx("sam"), consents)
    project_ops.apply(ctx("alice"), "bench", title="b", purpose=Purpose.parse("GRU"),
                      ethics_ref="x", datasets=datasets, members=[],
                      expiry=dt.date.today() + dt.timedelta(days=30))  # fmt: skip
    for steward in ("sam", "sue"):
        review.vote(ctx(steward), "bench", Vote.APPROVE)
    review.approve(ctx("sam"), "bench")
    (state / "ready").touch()
    return settings


def first_variants(vcf: Path, variants: int) -> Path:
    """A bgzipped, indexed VCF of the first ``variants`` records of ``vcf`` (made once)."""
    out = vcf.with_name(vcf.name.replace(".vcf.gz", f".first{variants}.vcf.gz"))
    if not out.exists():
        partial = out.with_suffix(".partial")
        script = (f"zcat {vcf} | awk -v n={variants} '/^#/ {{print; next}} "
                  f"{{if (++c > n) exit; print}}' | bgzip > {partial}")  # fmt: skip
        subprocess.run(["bash", "-c", script], check=True)
        partial.rename(out)
        subprocess.run(["tabix", "-p", "vcf", str(out)], check=True)
    return out


def session_opener(settings: Settings, dispensal: Path) -> Callable[[], xr.Dataset]:
    """What a session's ``open_project().variants()`` does, minus the loopback HTTP hop: the
    data service decides (audited) and returns the cached materialised dispensal, and the
    session opens that read-only copy."""
    gate = Gate(Store(settings.store_url), load_policies(settings.policy_dir))
    dispensal.mkdir(parents=True, exist_ok=True)

    def open_view() -> xr.Dataset:
        grant = gate.decide("alice", "bench", "wgs")
        return open_vcf_zarr(materialise(grant, dispensal, os.getgid()))

    return open_view
