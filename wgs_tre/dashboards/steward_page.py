"""The steward dashboard's widgets: tabs over :mod:`wgs_tre.dashboards.steward`, nothing else.

Built by ``dashboards/steward.ipynb`` in a kernel that acts as the person signed in to the hub.
Slow parts (the consent counts, the audit log, the airlock queue of
:mod:`~wgs_tre.dashboards.airlock_page`) load when their tab is first opened, behind a
loading line; every button shows its outcome in one line, in the page's language (a switch in
the page). Element ids (``tre-*``) are what the browser tests look for. Laid out for a laptop
screen (1366x768): tables scroll inside their tab rather than the page growing sideways.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from functools import partial
from html import escape

import ipywidgets as w

from wgs_tre.config import Settings, load_settings
from wgs_tre.dashboards import steward
from wgs_tre.dashboards.airlock_page import AirlockTab
from wgs_tre.dashboards.outcome import Outcome
from wgs_tre.dashboards.page import DashboardPage, table
from wgs_tre.governance import Context
from wgs_tre.governance.identity import Identity
from wgs_tre.policy import load_policies
from wgs_tre.store import Store
from wgs_tre.types import Action, Vote

__all__ = ["StewardPage", "for_kernel"]

TABS = ("applications", "approvals", "consent", "audit", "airlock")


def for_kernel(identity: Identity, language: str) -> StewardPage:
    """The page for a dashboard kernel: the store and policies the service's settings name."""
    settings = load_settings()
    store = Store(settings.store_url)
    return StewardPage(
        Context.acting(store, load_policies(settings.policy_dir), identity), language, settings
    )


class StewardPage(DashboardPage):
    def __init__(self, ctx: Context, language: str, settings: Settings | None = None) -> None:
        super().__init__(ctx, language)
        self.settings = settings  # where the audit's checkpoints and signing key are
        self.tabs = w.Tab(children=[w.VBox() for _ in TABS])
        self.tabs.observe(lambda change: self.open_tab(change["new"]), names="selected_index")
        self.loaded: set[int] = set()
        self.airlock = AirlockTab(self, TABS.index("airlock"))
        self.filters = {
            "actor": w.Text(layout=w.Layout(width="140px")),
            "action": w.Dropdown(options=["", *(a.value for a in Action)]),
            "project": w.Text(layout=w.Layout(width="140px")),
            "since": w.DatePicker(),
        }
        self.body.children = [self.tabs]
        self.switch(self.lang)

    # -- frame --------------------------------------------------------------------------------
    def redraw(self) -> None:
        """Everything again, in the page's language: tabs, the tab in view."""
        for index, name in enumerate(TABS):
            self.tabs.set_title(index, self.t(f"tab_{name}"))
        self.loaded.clear()
        self.open_tab(self.tabs.selected_index or 0)

    def open_tab(self, index: int | None) -> None:
        if index is None or index in self.loaded:
            return
        builders: list[Callable[[], list[w.Widget]]] = [
            self.applications,
            self.approvals,
            self.consent,
            self.audit,
            self.airlock.build,
        ]
        self.loaded.add(index)
        self.busy(lambda: setattr(self.tabs.children[index], "children", builders[index]()))

    def act(self, tab: int, step: Callable[[], Outcome]) -> None:
        """Run a button's governed step, show its outcome, and refresh the tab it changed."""
        self.loading()
        outcome = step()
        self.loaded.discard(tab)
        self.open_tab(tab)
        self.say_outcome(outcome)

    # -- tabs ---------------------------------------------------------------------------------
    def applications(self) -> list[w.Widget]:
        rows = steward.applications(self.ctx)
        if not rows:
            return [w.HTML(f'<p id="tre-applications">{self.t("no_applications")}</p>')]
        grid = self.first_table(
            "tre-applications",
            [
                self.t(k)
                for k in (
                    "project",
                    "datasets",
                    "purpose",
                    "organisation",
                    "ethics",
                    "votes",
                    "your_part",
                )
            ],
            [self._application_cells(row) for row in rows],
        )
        return [w.HTML(grid), *(self._application_controls(row) for row in rows)]

    def _application_cells(self, row: steward.ApplicationRow) -> list[object]:
        view = row.project
        purpose = f"{view.purpose} {view.purpose_label}" + (
            f" ({view.disease})" if view.disease else ""
        )
        votes = ", ".join(f"{v.steward}: {v.vote}" for v in row.votes) or "-"
        part = [self.t("may_vote")] if row.may_vote else []
        part += [self.t("may_decide")] if row.may_approve or row.may_reject else []
        return [
            f"{view.slug} ({view.lead})",
            ", ".join(view.application.datasets if view.application else []),
            purpose,
            f"{view.organisation} ({view.org_type})",
            view.ethics_ref,
            votes,
            "; ".join(part) or (row.not_voting or ""),
        ]

    def _application_controls(self, row: steward.ApplicationRow) -> w.Widget:
        slug = row.project.slug
        reason = w.Text(placeholder=self.t("reason"), layout=w.Layout(width="320px"))
        reason.add_class("tre-reason")

        def vote(choice: Vote) -> Callable[[], None]:
            return lambda: self.act(
                0, lambda: steward.cast_vote(self.ctx, self.lang, slug, choice, reason.value)
            )

        def decide(choice: Vote) -> Callable[[], None]:
            return lambda: self.act(
                0, lambda: steward.decide(self.ctx, self.lang, slug, choice, reason.value)
            )

        box = w.HBox(
            [
                w.HTML(f"<b>{escape(slug)}</b>", layout=w.Layout(width="160px")),
                reason,
                self.button("vote_approve", row.may_vote, vote(Vote.APPROVE)),
                self.button("vote_reject", row.may_vote, vote(Vote.REJECT)),
                self.button("approve", row.may_approve, decide(Vote.APPROVE)),
                self.button("reject", row.may_reject, decide(Vote.REJECT)),
            ]
        )
        box.add_class(f"tre-application-{slug}")
        return box

    def approvals(self) -> list[w.Widget]:
        rows = steward.approvals_in_force(self.ctx)
        if not rows:
            return [w.HTML(f'<p id="tre-approvals">{self.t("no_approvals")}</p>')]
        grid = table(
            "tre-approvals",
            [self.t(k) for k in ("project", "state", "expires", "datasets", "members")],
            [
                [
                    r.project.slug,
                    r.state,
                    f"{r.expires_at:%Y-%m-%d} ({self.t('days_left', days=r.days_left)})",
                    ", ".join(r.project.approval.datasets if r.project.approval else []),
                    ", ".join(r.project.approval.members if r.project.approval else []),
                ]
                for r in rows
            ],
        )
        return [w.HTML(grid), *(self._approval_controls(row) for row in rows)]

    def _approval_controls(self, row: steward.ApprovalRow) -> w.Widget:
        slug = row.project.slug
        reason = w.Text(placeholder=self.t("reason"), layout=w.Layout(width="260px"))
        until = w.DatePicker(layout=w.Layout(width="150px"))

        def step(name: str) -> Callable[[], None]:
            return lambda: self.act(
                1, lambda: steward.step_approval(self.ctx, self.lang, slug, name, reason.value)
            )

        def renew() -> None:
            self.act(1, lambda: steward.renew(self.ctx, self.lang, slug, until.value, reason.value))

        buttons = [
            self.button(name, name in row.steps, step(name)) for name in steward.APPROVAL_STEPS
        ]
        box = w.HBox(
            [
                w.HTML(f"<b>{escape(slug)}</b>", layout=w.Layout(width="160px")),
                reason,
                *buttons,
                until,
                self.button("renew", "renew" in row.steps, renew),
            ]
        )
        box.add_class(f"tre-approval-{slug}")
        return box

    def consent(self) -> list[w.Widget]:
        seen = steward.consent_overview(self.ctx)
        totals = table(
            "tre-consent-totals",
            [self.t(k) for k in ("participants", "in_force", "withdrawn", "no_consent")],
            [[seen.participants, seen.in_force, seen.withdrawn, seen.no_consent]],
        )
        permission = table(
            "tre-consent-duo", ["DUO", self.t("participants")], list(seen.by_permission.items())
        )
        sites = table(
            "tre-consent-sites",
            [self.t(k) for k in ("by_site", "in_force", "withdrawn", "other")],
            [
                [site or self.t("no_site"), c["in_force"], c["withdrawn"], c["other"]]
                for site, c in seen.by_site.items()
            ],
        )
        who = w.VBox()
        show = self.button(
            "show_withdrawals",
            True,
            lambda: self.busy(lambda: setattr(who, "children", self._withdrawals())),
        )
        return [
            w.HTML(totals),
            w.HBox(
                [
                    w.HTML(f"<h4>{self.t('by_permission')}</h4>{permission}"),
                    w.HTML(f"<h4>{self.t('by_site')}</h4>{sites}"),
                ],
                layout=w.Layout(grid_gap="32px"),
            ),
            w.HTML(f"<h4>{self.t('withdrawals_over_time')}</h4>"),
            _plot(seen.withdrawals_by_month),
            w.HTML(f"<h4>{self.t('recent_withdrawals')}</h4>"),
            show,
            who,
        ]

    def _withdrawals(self) -> list[w.Widget]:
        found = steward.withdrawals(self.ctx)
        impact = w.HTML()

        def show_impact(participant: str) -> None:
            report = steward.withdrawal_impact(self.ctx, participant)
            versions = ", ".join(report.dataset_versions) or self.t("none")
            projects = [
                [p.project, p.approval_state, ", ".join(p.datasets)] for p in report.projects
            ]
            outputs = ", ".join(report.released_outputs) or self.t("none")
            models = ", ".join(report.models) or self.t("none")
            impact.value = (
                f"<h4>{escape(self.t('impact_of', participant=participant))}</h4>"
                f"<p>{escape(self.t('impact_versions', versions=versions))}</p>"
                f"<p>{self.t('impact_projects')}</p>"
                + table(
                    "tre-impact", [self.t("project"), self.t("state"), self.t("datasets")], projects
                )
                + f"<p>{escape(self.t('impact_released', outputs=outputs))}</p>"
                f"<p>{escape(self.t('impact_models', models=models))}</p>"
            )

        rows = [
            w.HBox(
                [
                    w.HTML(
                        f"{escape(x.participant)} &nbsp; {x.recorded:%Y-%m-%d %H:%M} UTC",
                        layout=w.Layout(width="320px"),
                    ),
                    self.button(
                        "impact", True, partial(self.busy, partial(show_impact, x.participant))
                    ),
                ]
            )
            for x in found
        ]
        return [*rows, impact]

    def audit(self) -> list[w.Widget]:
        verified = w.HTML(self._last_verified())
        audit_tab = TABS.index("audit")  # redrawn after a check: its verdict, its event
        check = self.button(
            "verify_now",
            True,
            lambda: self.act(
                audit_tab, partial(steward.verify_chain, self.ctx, self.lang, self.settings)
            ),
        )
        events = w.HTML()

        def show() -> None:
            f = self.filters
            found = steward.audit_events(
                self.ctx,
                actor=f["actor"].value,
                action=f["action"].value,
                project=f["project"].value,
                since=f["since"].value,
            )
            events.value = (
                f"<p>{self.t('events_shown', n=len(found), limit=steward.AUDIT_LIMIT)}</p>"
                + table(
                    "tre-audit-events",
                    [
                        self.t(k)
                        for k in ("time", "actor", "action", "project", "decision", "reason")
                    ],
                    [
                        [
                            e.time[:19].replace("T", " "),
                            e.actor,
                            e.action,
                            e.project or "",
                            e.decision,
                            e.reason,
                        ]
                        for e in found
                    ],
                )
            )

        labels = {name: w.HTML(f"{self.t(name)}&nbsp;") for name in self.filters}
        bar = w.HBox(
            [w.HBox([labels[n], self.filters[n]]) for n in self.filters]
            + [self.button("filter", True, lambda: self.busy(show))]
        )
        show()
        return [w.HBox([verified, check], layout=w.Layout(align_items="center")), bar, events]

    def _last_verified(self) -> str:
        last = steward.last_verification(self.ctx)
        if last is None:
            text = self.t("never_verified")
        else:
            when = last.time[:16].replace("T", " ") + " UTC"
            text = self.t("verified", time=when, actor=last.actor, summary=last.reason)
        return f'<p id="tre-audit-verified">{escape(text)}</p>'


def _plot(by_month: dict[str, int]) -> w.Widget:
    """Withdrawals by month as a bar chart (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 2.2), dpi=96)
    months = list(by_month) or [f"{dt.date.today():%Y-%m}"]
    axes.bar(months, [by_month.get(m, 0) for m in months], color="#5c6bc0")
    axes.tick_params(axis="x", labelrotation=45, labelsize=7)
    axes.set_ylabel("n")
    figure.tight_layout()
    png = io.BytesIO()
    figure.savefig(png, format="png")
    plt.close(figure)
    image = w.Image(value=png.getvalue(), format="png", layout=w.Layout(width="672px"))
    image.add_class("tre-withdrawals-plot")
    return image
