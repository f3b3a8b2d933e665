"""A walkthrough of the TRE on a fresh SQLite store, through the real ``wgs-tre`` command line.

Shows each command and its output: accounts and organisations; a synthetic cohort ingested
(genotypes, clinical FHIR, consent); two applications through the review committee (one
approved, one rejected); a refusal; the researcher opening the approved project's data in
Python (consented participants only, pseudonymised); a suspension; a withdrawal-impact report;
and the audit log verified and exported for a SIEM.

Usage: scripts/demo [--dir DIR] [--samples N] [--variants M]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"

RESEARCHER_CODE = """
from wgs_tre import open_project
project = open_project("lung-cancer")          # as your OS login's account; audited by the gate
print(project.datasets())
genotypes = project.variants()                  # lazy: nothing is read yet
print(genotypes[["call_genotype", "sample_id"]])
survival = project.clinical("survival")         # joins the genotypes on sample_id
print(survival.head())
print("same people:", set(survival.sample_id) <= set(genotypes.sample_id.values))
"""


def say(text: str) -> None:
    print(f"\n\033[1m## {text}\033[0m", flush=True)


def run(env: dict[str, str], *args: str, expect_failure: bool = False) -> None:
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    print(f"\033[36m$ wgs-tre {shown}\033[0m", flush=True)
    result = subprocess.run([str(BIN / "wgs-tre"), *args], env=env, check=False)
    if (result.returncode != 0) != expect_failure:
        sys.exit(f"walkthrough stopped: exit code {result.returncode} from wgs-tre {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=REPO / "var" / "demo", help="state directory")
    parser.add_argument("--samples", type=int, default=300, help="synthetic cohort size")
    parser.add_argument("--variants", type=int, default=20_000, help="synthetic variants")
    args = parser.parse_args()

    state = args.dir.resolve()
    if state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True)
    env = {
        **os.environ,
        "WGS_TRE_DATA_DIR": str(state),
        "WGS_TRE_POLICY_DIR": str(REPO / "policies"),
    }
    env.pop("WGS_TRE_DATABASE_URL", None)
    cohort = state / "cohort"
    sato, suzuki, alice, bob = (("--as", name) for name in ("sato", "suzuki", "alice", "bob"))
    expiry = (dt.date.today() + dt.timedelta(days=180)).isoformat()

    say("A fresh governance store, organisations and accounts (admin)")
    run(env, "init", "--admin", "admin")
    admin = ("--as", "admin")
    run(env, *admin, "orgs", "create", "University of Tokyo", "--type", "academic")
    run(env, *admin, "orgs", "create", "National Genome Centre", "--type", "academic")
    run(env, *admin, "orgs", "create", "Acme Pharma", "--type", "industry")
    for name, role, org in [
        ("alice", "researcher", "University of Tokyo"),
        ("bob", "researcher", "Acme Pharma"),
        ("sato", "steward", "National Genome Centre"),
        ("suzuki", "steward", "National Genome Centre"),
        ("kenji", "expert_panel", "National Genome Centre"),
    ]:
        run(env, *admin, "users", "create", name, "--role", role, "--org", org)

    say("The sequencing pipeline delivers a cohort; a steward ingests it")
    run(env, "demo-data", str(cohort), "--samples", str(args.samples),
        "--variants", str(args.variants))  # fmt: skip
    run(
        env, *sato, "ingest", "vcf", str(cohort / "genotypes" / "cohort.vcf.gz"), "--dataset", "wgs"
    )
    bundles = sorted(str(p) for p in (cohort / "fhir").glob("*.json"))
    mapping = str(cohort / "fhir" / "code-mapping.csv")
    run(env, *sato, "ingest", "fhir", *bundles, "--dataset", "clinical", "--mapping", mapping)
    run(env, *sato, "consent", "import", str(cohort / "consent" / "consent.ndjson"))
    run(env, *sato, "consent", "status", "--purpose", "DS", "--disease", "C34",
        "--org-type", "academic")  # fmt: skip
    run(env, *sato, "datasets", "list")

    say("A researcher applies; the committee votes and approves")
    run(env, *alice, "projects", "apply", "lung-cancer", "--title", "Germline risk in lung cancer",
        "--purpose", "GRU", "--ethics-ref", "UT-IRB-2026-042", "--dataset", "wgs@1",
        "--dataset", "clinical@1", "--expiry", expiry)  # fmt: skip
    run(env, *alice, "projects", "approve", "lung-cancer", expect_failure=True)
    run(env, *sato, "projects", "vote", "lung-cancer", "approve")
    run(env, *suzuki, "projects", "vote", "lung-cancer", "approve", "--comment", "ethics checked")
    run(env, *sato, "projects", "approve", "lung-cancer")

    say("An industry application is rejected")
    run(env, *bob, "projects", "apply", "drug-targets", "--title", "Target discovery",
        "--purpose", "GRU", "--ethics-ref", "ACME-EC-9", "--dataset", "wgs",
        "--expiry", expiry)  # fmt: skip
    run(env, *sato, "projects", "vote", "drug-targets", "reject", "--comment", "no DAA yet")
    run(env, *suzuki, "projects", "vote", "drug-targets", "reject")
    run(env, *suzuki, "projects", "reject", "drug-targets", "--reason", "no data-access agreement")

    say("The researcher opens the approved data in Python (consented participants, pseudonymised)")
    print(f"\033[36m$ python  # as alice{RESEARCHER_CODE}\033[0m", flush=True)
    python_env = {**env, "WGS_TRE_AS": "alice"}  # the demo runs as root, acting as alice
    subprocess.run([str(BIN / "python"), "-c", RESEARCHER_CODE], env=python_env, check=True)

    say("A suspension, a refused open, and the reinstatement")
    run(env, *sato, "projects", "suspend", "lung-cancer", "--reason", "annual review overdue")
    refused = (
        "from wgs_tre import open_project\nfrom wgs_tre.errors import Refused\n"
        "try:\n    open_project('lung-cancer').variants()\n"
        "except Refused as refusal:\n    print(refusal)\n"
    )
    print(f"\033[36m$ python  # as alice\n{refused}\033[0m", flush=True)
    subprocess.run([str(BIN / "python"), "-c", refused], env=python_env, check=True)
    run(env, *sato, "projects", "reinstate", "lung-cancer", "--reason", "review received")
    run(env, *sato, "projects", "list")

    say("A withdrawal: what does it touch?")
    run(env, *sato, "consent", "impact", "P000001")

    say("The audit log: verified end to end, and exported for a SIEM")
    run(env, *sato, "audit", "verify")
    run(env, *sato, "audit", "tail", "-n", "8")
    run(env, *sato, "audit", "export", "--format", "cef", "-o", str(state / "audit.cef"))
    print(f"\nDone. State is in {state}; try for example:")
    print(f"  WGS_TRE_DATA_DIR={state} .venv/bin/wgs-tre --as sato projects show lung-cancer")


if __name__ == "__main__":
    main()
