"""The demo: a real JupyterHub on 127.0.0.1 with a synthetic cohort, demo accounts and projects.

First run: creates the governance store, organisations and accounts (researcher, second
researcher, two stewards, an expert-panel member, an admin), generates and ingests a synthetic
cohort (genotypes, clinical FHIR, consent), approves one project and leaves one pending, then
starts the hub and prints the URL and the passwords. Later runs reuse all of it (``--fresh``
starts over). Ctrl-C or SIGTERM (also when started in the background, where the shell ignores
SIGINT) stops the hub, every session and every service. Needs root (sessions get network
namespaces, sandboxes and their own accounts).

The state directory (``var/demo``: store, raw cohort, hub database, passwords) is root's alone:
sessions reach only their own project's files, which the sandbox binds into them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PEOPLE = [
    # username, role, organisation, who
    ("alice", "researcher", "University of Tokyo", "researcher (member of lung-cancer)"),
    ("bob", "researcher", "Acme Pharma", "researcher (applicant of drug-targets, pending)"),
    ("sato", "steward", "National Genome Centre", "data steward (the steward dashboard)"),
    ("suzuki", "steward", "National Genome Centre", "data steward (the steward dashboard)"),
    ("kenji", "expert_panel", "Hospital A", "expert panel, Hospital A (the panel dashboard)"),
    ("admin", "admin", None, "TRE admin"),
]


def say(text: str) -> None:
    print(f"\033[1m==> {text}\033[0m", flush=True)


def prepare(state: Path, samples: int, variants: int) -> None:
    """Everything the hub serves: store, accounts, cohort, projects (first run only)."""
    from wgs_tre.config import load_settings
    from wgs_tre.consent import registry
    from wgs_tre.duo import Purpose
    from wgs_tre.governance import Context, projects, review, users
    from wgs_tre.ingest.fhir import ingest_fhir
    from wgs_tre.ingest.vcf import ingest_vcf
    from wgs_tre.policy import load_policies
    from wgs_tre.store import Store
    from wgs_tre.synth import GenotypeSpec, make_cohort
    from wgs_tre.types import OrgType, Role, Vote

    settings = load_settings()
    store = Store(settings.store_url)
    store.upgrade()
    policies = load_policies(settings.policy_dir)
    users.bootstrap_admin(store, "admin", by="demo")

    def ctx(actor: str) -> Context:
        return Context(store, policies, actor)

    say("organisations and accounts")
    for name, kind in [("University of Tokyo", OrgType.ACADEMIC), ("Acme Pharma", OrgType.INDUSTRY),
                       ("National Genome Centre", OrgType.ACADEMIC),
                       ("Hospital A", OrgType.DATA_PROVIDER)]:  # fmt: skip
        users.create_organisation(ctx("admin"), name, kind)
    for name, role, org, _ in PEOPLE[:-1]:
        users.create_user(ctx("admin"), name, roles={Role(role)}, organisation=org)

    say(f"a synthetic cohort of {samples} participants and {variants} variants")
    # Generated and kept under the root-only state directory: raw data with programme ids.
    cohort = make_cohort(state / "cohort", GenotypeSpec(samples=samples, variants=variants))
    (state / "cohort").chmod(0o700)
    root = settings.data_dir / "datasets"
    ingest_vcf(ctx("sato"), cohort.vcf, "wgs", root=root)
    ingest_fhir(ctx("sato"), cohort.fhir, "clinical", mapping=cohort.mapping, root=root)
    if cohort.somatic is not None:  # the cancer cases' tumour calls
        ingest_vcf(ctx("sato"), cohort.somatic, "somatic", root=root)
    registry.import_file(ctx("sato"), cohort.consent)

    say("one approved project (lung-cancer) and one pending (drug-targets)")
    expiry = dt.date.today() + dt.timedelta(days=180)
    projects.apply(ctx("alice"), "lung-cancer", title="Germline risk in lung cancer",
                   purpose=Purpose.parse("GRU"), ethics_ref="UT-IRB-2026-042",
                   datasets=["wgs@1", "clinical@1"], members=[], expiry=expiry)  # fmt: skip
    for steward in ("sato", "suzuki"):
        review.vote(ctx(steward), "lung-cancer", Vote.APPROVE)
    review.approve(ctx("sato"), "lung-cancer")
    projects.apply(ctx("bob"), "drug-targets", title="Target discovery",
                   purpose=Purpose.parse("GRU"), ethics_ref="ACME-EC-9",
                   datasets=["wgs@1"], members=[], expiry=expiry)  # fmt: skip
    case_reports(ctx, cohort.fhir[0])
    store.dispose()


def case_reports(ctx: Callable[[str], Any], bundle: Path) -> None:
    """Hospital A's cases (its FHIR export), and reports in every state of the review."""
    from wgs_tre.governance import cases
    from wgs_tre.reports.build import generate
    from wgs_tre.reports.cases import cases_from_fhir

    say("Hospital A's cases and their reports (draft, in review, returned, revised, signed off)")
    refs = cases.register_cases(ctx("sato"), "Hospital A", cases_from_fhir([bundle]))
    plan = ["draft", "in_review", "in_review", "returned", "revised", "signed_off", "signed_off"]
    for ref, state in zip(refs, plan, strict=False):
        generate(ctx("sato"), ref, clinical="clinical", somatic="somatic")
        if state == "draft":
            continue
        cases.submit(ctx("sato"), ref)
        if state == "signed_off":
            cases.sign_off(ctx("kenji"), ref, "agreed at the tumour board")
        elif state in ("returned", "revised"):
            cases.return_report(ctx("kenji"), ref, "please state the panel's genes in the summary")
            if state == "revised":
                note = "The panel's genes are listed."
                generate(ctx("sato"), ref, clinical="clinical", somatic="somatic", note=note)


def passwords(state: Path) -> dict[str, str]:
    path = state / "passwords.txt"
    if not path.exists():
        path.write_text("".join(f"{name} {secrets.token_urlsafe(9)}\n" for name, *_ in PEOPLE))
        path.chmod(0o600)
    return dict(line.split() for line in path.read_text().splitlines())


def wait_for(url: str, hub: subprocess.Popen[bytes], seconds: float = 90) -> None:
    """Until the hub answers on its own API address, then through the proxy (asking the proxy
    first would log a 404 for every try while the hub is still starting)."""
    from wgs_tre.hub.netns import HUB_ADDRESS

    api = f"http://{HUB_ADDRESS}:{os.environ.get('WGS_TRE_HUB_API_PORT', '8081')}"
    deadline = time.monotonic() + seconds
    for target in (api, url):
        while True:
            if hub.poll() is not None:
                sys.exit(f"the hub exited (code {hub.returncode}); see the output above")
            if time.monotonic() > deadline:
                sys.exit("the hub did not come up in time")
            try:
                urllib.request.urlopen(f"{target}/hub/api/", timeout=2)  # noqa: S310 - ours
                break
            except OSError:
                time.sleep(0.5)


def stop(hub: subprocess.Popen[bytes], seconds: float = 8) -> None:
    """SIGTERM the hub, which stops every session and its services; a hub still cleaning up
    after ``seconds`` is killed, and its services, proxy and sessions end with it (they are
    started so: wgs_tre/hub/end_with_hub.py, the sandbox's --die-with-parent)."""
    for signum in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C does not cut this short
        signal.signal(signum, signal.SIG_IGN)
    if hub.poll() is None:
        hub.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            hub.wait(seconds)
    hub.kill()
    hub.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # SIGTERM stops the demo as Ctrl-C does; so does SIGINT where a shell started it in the
    # background and left SIGINT ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])

    parser.add_argument("--state", type=Path, default=REPO / "var" / "demo", help="state dir")
    parser.add_argument("--fresh", action="store_true", help="start over")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--variants", type=int, default=20_000)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the demo hub needs root: sessions get network namespaces and their own accounts")
    state = args.state.resolve()
    if args.fresh and state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    url = f"http://127.0.0.1:{args.port}"
    os.environ.update(
        WGS_TRE_DATA_DIR=str(state / "data"),
        WGS_TRE_POLICY_DIR=str(REPO / "policies"),
        WGS_TRE_HUB_STATE=str(state / "hub"),
        WGS_TRE_HUB_URL=url,
        # the cohort's documented true effects (no participant id), beside the examples
        WGS_TRE_EXAMPLE_FILES=str(state / "cohort" / "true-effects.json"),
    )
    os.environ.pop("WGS_TRE_DATABASE_URL", None)
    if not (state / "ready").exists():
        prepare(state, args.samples, args.variants)
        (state / "ready").write_text("prepared\n")
    else:
        say(f"reusing the demo state in {state} (--fresh starts over)")
    secrets_by_user = passwords(state)
    say(f"starting JupyterHub on {url}")
    config = REPO / "hub" / "jupyterhub_config.py"
    hub = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(config)], cwd=state,
                           start_new_session=True)  # fmt: skip
    try:
        wait_for(url, hub)
        from wgs_tre.dashboards import DASHBOARDS
        from wgs_tre.hub.auth import add_signin

        for name, password in secrets_by_user.items():
            add_signin(f"sqlite:///{state / 'hub' / 'jupyterhub.sqlite'}", name, password)
        print(f"\n  The TRE is up: {url}\n")
        for name, _, _, who in PEOPLE:
            print(f"    {name:<8} {secrets_by_user[name]:<14} {who}")
        print(f"\n  Sign in at {url}: each account lands on a page for its role, and alice")
        print("  opens her lung-cancer session from hers.")
        for board in DASHBOARDS:
            where = f"{url}/services/{board.service}/"
            print(f"  The {board.name} dashboard ({board.role.value} only): {where}")
        print("  Stewards also have the CLI, e.g.:")
        print(f"    WGS_TRE_DATA_DIR={state / 'data'} .venv/bin/wgs-tre --as sato projects list")
        print("\n  Ctrl-C (or SIGTERM) stops the hub and every session.\n", flush=True)
        hub.wait()
    except KeyboardInterrupt:
        say("stopping the hub")
    finally:
        stop(hub)


if __name__ == "__main__":
    main()
