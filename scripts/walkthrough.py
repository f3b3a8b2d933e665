"""A governance walkthrough on a fresh SQLite store, through the real ``wgs-tre`` command line.

Shows each command and its output: accounts and organisations, a dataset release, consent
import and status, two applications through the review committee (one approved, one rejected),
a refusal, a suspension, and the audit log verified and exported for a SIEM.

Usage: scripts/demo [--dir DIR] [--participants N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

from wgs_tre.consent.build import make_bundle, make_consent

REPO = Path(__file__).resolve().parent.parent


def say(text: str) -> None:
    print(f"\n\033[1m## {text}\033[0m", flush=True)


def wgs_tre(env: dict[str, str], *args: str, expect_failure: bool = False) -> None:
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    print(f"\033[36m$ wgs-tre {shown}\033[0m", flush=True)
    exe = REPO / ".venv" / "bin" / "wgs-tre"
    result = subprocess.run([str(exe), *args], env=env, check=False)
    if (result.returncode != 0) != expect_failure:
        sys.exit(f"walkthrough stopped: exit code {result.returncode} from wgs-tre {shown}")


def consent(participant: str, rng: random.Random) -> dict[str, object]:
    """A realistic mix: mostly general research, some health-only, disease-specific, non-commercial
    and withdrawn; recontact yes or no."""
    roll = rng.random()
    codes, diseases, status = ["DUO:0000042"], [], "active"
    if roll < 0.20:
        codes = ["DUO:0000006"]
    elif roll < 0.35:
        codes, diseases = ["DUO:0000007"], [rng.choice(["C", "C34", "C50", "Q87"])]
    elif roll < 0.45:
        codes = ["DUO:0000042", "DUO:0000046"]
    elif roll < 0.50:
        status = "inactive"
    given = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=rng.randrange(600))
    return make_consent(
        participant,
        fhir_id=f"consent-{participant}",
        when=given.isoformat(),
        status=status,
        duo=codes,
        diseases=diseases,
        recontact=rng.random() < 0.7,
    )


def write_release(directory: Path, participants: list[str]) -> None:
    directory.mkdir(parents=True)
    header = "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"])
    lines = ["##fileformat=VCFv4.3", f"{header}\t" + "\t".join(participants)]
    rng = random.Random(7)
    for pos in range(10_000, 10_500, 50):
        calls = "\t".join(rng.choice(["0/0", "0/0", "0/1", "1/1"]) for _ in participants)
        lines.append(f"chr1\t{pos}\t.\tA\tG\t50\tPASS\t.\tGT\t{calls}")
    (directory / "calls.vcf").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=REPO / "var" / "demo", help="state directory")
    parser.add_argument("--participants", type=int, default=200, help="synthetic cohort size")
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
    participants = [f"P{i:05d}" for i in range(1, args.participants + 1)]
    rng = random.Random(2026)

    say("A fresh governance store and its first admin")
    wgs_tre(env, "init", "--admin", "admin")

    say("Organisations and accounts (admin)")
    admin = ("--as", "admin")
    wgs_tre(env, *admin, "orgs", "create", "University of Tokyo", "--type", "academic")
    wgs_tre(env, *admin, "orgs", "create", "National Genome Centre", "--type", "academic")
    wgs_tre(env, *admin, "orgs", "create", "Acme Pharma", "--type", "industry")
    people = [
        ("alice", "researcher", "University of Tokyo"),
        ("bob", "researcher", "Acme Pharma"),
        ("sato", "steward", "National Genome Centre"),
        ("suzuki", "steward", "National Genome Centre"),
        ("kenji", "expert_panel", "National Genome Centre"),
    ]
    for name, role, org in people:
        wgs_tre(env, *admin, "users", "create", name, "--role", role, "--org", org)
    wgs_tre(env, *admin, "users", "list")

    say("A data steward registers a release and imports consent")
    release = state / "releases" / "wgs-2026-11"
    write_release(release, participants)
    wgs_tre(
        env,
        "--as",
        "sato",
        "datasets",
        "register",
        "wgs-cohort",
        str(release),
        "--kind",
        "variants",
        "--description",
        "Synthetic WGS release",
    )
    bundle = make_bundle(consent(p, rng) for p in participants)
    consents = state / "consent-bundle.json"
    consents.write_text(json.dumps(bundle))
    wgs_tre(env, "--as", "sato", "consent", "import", str(consents))
    wgs_tre(env, "--as", "sato", "consent", "status", "--purpose", "GRU", "--org-type", "academic")
    wgs_tre(env, "--as", "sato", "consent", "status", "--purpose", "GRU", "--org-type", "industry")

    expiry = (dt.date.today() + dt.timedelta(days=180)).isoformat()
    say("A researcher applies; the committee votes and approves")
    wgs_tre(
        env,
        "--as",
        "alice",
        "projects",
        "apply",
        "lung-cancer",
        "--title",
        "Germline risk in lung cancer",
        "--purpose",
        "DS",
        "--disease",
        "C34",
        "--ethics-ref",
        "UT-IRB-2026-042",
        "--dataset",
        "wgs-cohort@1",
        "--expiry",
        expiry,
    )
    wgs_tre(env, "--as", "alice", "projects", "approve", "lung-cancer", expect_failure=True)
    wgs_tre(env, "--as", "sato", "projects", "vote", "lung-cancer", "approve")
    wgs_tre(
        env,
        "--as",
        "suzuki",
        "projects",
        "vote",
        "lung-cancer",
        "approve",
        "--comment",
        "ethics approval checked",
    )
    wgs_tre(env, "--as", "sato", "projects", "approve", "lung-cancer")
    wgs_tre(env, "--as", "alice", "projects", "show", "lung-cancer")

    say("An industry application is rejected")
    wgs_tre(
        env,
        "--as",
        "bob",
        "projects",
        "apply",
        "drug-targets",
        "--title",
        "Target discovery",
        "--purpose",
        "GRU",
        "--ethics-ref",
        "ACME-EC-9",
        "--dataset",
        "wgs-cohort",
        "--expiry",
        expiry,
    )
    wgs_tre(
        env,
        "--as",
        "sato",
        "projects",
        "vote",
        "drug-targets",
        "reject",
        "--comment",
        "commercial use needs a data-access agreement first",
    )
    wgs_tre(env, "--as", "suzuki", "projects", "vote", "drug-targets", "reject")
    wgs_tre(
        env,
        "--as",
        "suzuki",
        "projects",
        "reject",
        "drug-targets",
        "--reason",
        "no data-access agreement",
    )

    say("A suspension and its reinstatement")
    wgs_tre(
        env,
        "--as",
        "sato",
        "projects",
        "suspend",
        "lung-cancer",
        "--reason",
        "annual review overdue",
    )
    wgs_tre(
        env,
        "--as",
        "sato",
        "projects",
        "reinstate",
        "lung-cancer",
        "--reason",
        "annual review received",
    )
    wgs_tre(env, "--as", "sato", "projects", "list")

    say("The audit log: verified end to end, and exported for a SIEM")
    wgs_tre(env, "--as", "sato", "audit", "verify")
    wgs_tre(env, "--as", "sato", "audit", "tail", "-n", "8")
    wgs_tre(
        env, "--as", "sato", "audit", "export", "--format", "cef", "-o", str(state / "audit.cef")
    )
    print(
        f"\nDone. The store is {state / 'governance.db'}; try for example:\n"
        f"  WGS_TRE_DATA_DIR={state} .venv/bin/wgs-tre --as sato projects show lung-cancer"
    )


if __name__ == "__main__":
    main()
