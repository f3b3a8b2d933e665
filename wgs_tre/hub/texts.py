"""What the hub's own pages say, in English and Japanese.

Each entry is one sentence (or a label) in both languages; ``{placeholders}`` are filled in by
:func:`say`. Refusals have a sentence and a next step per governed reason code, so a refused
person reads why and what to do, never a bare "403 : Forbidden".
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LANGUAGES", "REFUSALS", "TEXT", "both", "choose_language", "say"]

LANGUAGES = ("en", "ja")

TEXT: Mapping[str, tuple[str, str]] = {
    "title": ("Your TRE page", "あなたの TRE ページ"),
    "signed_in_as": ("Signed in as {user} ({roles})", "{user} としてサインイン中（{roles}）"),
    "no_roles": ("no role yet", "ロール未付与"),
    "role_researcher": ("researcher", "研究者"),
    "role_steward": ("data steward", "データスチュワード"),
    "role_expert_panel": ("expert panel", "エキスパートパネル"),
    "role_admin": ("administrator", "管理者"),
    "switch": ("日本語", "English"),
    # researcher
    "projects": ("Your projects", "あなたのプロジェクト"),
    "no_projects": (
        "You are not a member of any project yet.",
        "まだどのプロジェクトのメンバーでもありません。",
    ),
    "project": ("Project", "プロジェクト"),
    "status": ("Status", "状態"),
    "session": ("Session", "セッション"),
    "open": ("Open session", "セッションを開く"),
    "running": ("Running", "実行中"),
    "stop": ("Stop", "停止"),
    "until": ("until {date}", "{date} まで"),
    "apply_title": ("Apply for a new project", "新しいプロジェクトを申請する"),
    "apply_how": (
        "Apply with your purpose, ethics approval and the datasets you need; two stewards review"
        " it. From a terminal of the TRE:",
        "目的・倫理審査の承認番号・必要なデータセットを添えて申請してください。"
        "2 名のデータスチュワードが審査します。TRE の端末から:",
    ),
    # status words
    "status_active": ("approved", "承認済み"),
    "status_in_review": ("pending review", "審査待ち"),
    "status_suspended": ("suspended", "一時停止中"),
    "status_revoked": ("revoked", "取り消し"),
    "status_expired": ("expired", "期限切れ"),
    "status_rejected": ("rejected", "却下"),
    "status_withdrawn": ("withdrawn", "取り下げ"),
    "status_draft": ("draft", "下書き"),
    # steward
    "steward_title": ("Data stewardship", "データスチュワード業務"),
    "steward_dashboard": ("Open the steward dashboard", "スチュワード用ダッシュボードを開く"),
    "steward_intro": (
        "The dashboard holds applications, approvals, consent and the audit log in one place;"
        " the same work from a terminal of the TRE:",
        "ダッシュボードでは申請・承認・同意・監査ログをまとめて扱えます。TRE の端末からは次のコマンドで同じ作業ができます:",
    ),
    "in_review_count": ("Applications in review: {n}", "審査中の申請: {n} 件"),
    "awaiting_vote": ("Awaiting your vote: {projects}", "あなたの投票待ち: {projects}"),
    "nothing_to_vote": ("Nothing awaits your vote.", "投票待ちの申請はありません。"),
    "withdrawals_count": (
        "Consent withdrawals in the last {days} days: {n}",
        "過去 {days} 日間の同意撤回: {n} 件",
    ),
    "models_flagged": (
        "Prognosis models trained on data someone has since withdrawn from: {n} (wgs-tre models list)",
        "学習後に同意が撤回されたデータで学習した予後モデル: {n} 件（wgs-tre models list）",
    ),
    "last_verify": (
        "Audit chain last verified {time} by {actor}: {summary}",
        "監査ログの最終検証: {time}（{actor}）: {summary}",
    ),
    "never_verified": (
        "The audit chain has not been verified yet (wgs-tre audit verify).",
        "監査ログはまだ検証されていません（wgs-tre audit verify）。",
    ),
    "expiring_count": (
        "Approvals expiring within {days} days: {n}",
        "{days} 日以内に期限切れになる承認: {n} 件",
    ),
    # the airlock
    "released_title": ("Released outputs", "持ち出しが承認された成果物"),
    "request": ("Request", "申請"),
    "files": ("Files", "ファイル"),
    "released_on": ("released {date}", "{date} 公開"),
    "nothing_released": (
        "Nothing has been released from your projects yet.",
        "あなたのプロジェクトから公開された成果物はまだありません。",
    ),
    "airlock_how": (
        "Results leave a project only through the airlock: in a session, wgs_tre.airlock.request()"
        " (or wgs-tre airlock on the command line); two data stewards review each request, and"
        " what they approve appears here.",
        "成果物はエアロックを通してのみプロジェクトの外に出せます。セッションで"
        " wgs_tre.airlock.request()（またはコマンドラインの wgs-tre airlock）を使って申請すると、"
        "2 名のデータスチュワードが審査し、承認されたものがここに表示されます。",
    ),
    "airlock_waiting": (
        "Output requests awaiting your review: {n}",
        "あなたの審査を待つ持ち出し申請: {n} 件",
    ),
    "airlock_none_waiting": (
        "No output request awaits your review.",
        "あなたの審査を待つ持ち出し申請はありません。",
    ),
    # files brought in through the airlock
    "ingress_title": ("Bring a file in", "ファイルを持ち込む"),
    "ingress_how": (
        "Code and reference files (a table of weights, a notebook) come into a project through the"
        " airlock: checked and cleaned, then placed in its workspace's incoming/ folder once a"
        " data steward approves.",
        "コードや参照ファイル（重みの表、ノートブックなど）はエアロックを通してプロジェクトに"
        "持ち込みます。検査・無害化の後、データスチュワードが承認するとワークスペースの"
        " incoming/ フォルダに置かれます。",
    ),
    "ingress_file": ("File", "ファイル"),
    "ingress_why": ("Why the project needs it", "プロジェクトに必要な理由"),
    "ingress_send": ("Bring in", "持ち込む"),
    "ingress_pending": (
        "{name} was checked and waits for a data steward's approval ({ref}).",
        "{name} は検査済みで、データスチュワードの承認を待っています（{ref}）。",
    ),
    "ingress_admitted": (
        "{name} was checked and placed in {project}'s workspace as incoming/{placed}.",
        "{name} は検査済みで、{project} のワークスペースに incoming/{placed} として置かれました。",
    ),
    "ingress_refused": (
        "{name} was not brought in: {reason}",
        "{name} は持ち込めませんでした: {reason}",
    ),
    "ingress_waiting": (
        "Files brought in awaiting your approval: {n}",
        "あなたの承認を待つ持ち込みファイル: {n} 件",
    ),
    "ingress_none_waiting": (
        "No file brought in awaits your approval.",
        "あなたの承認を待つ持ち込みファイルはありません。",
    ),
    # expert panel
    "panel_title": ("Expert panel", "エキスパートパネル"),
    "panel_dashboard": (
        "Open the expert-panel dashboard",
        "エキスパートパネル用ダッシュボードを開く",
    ),
    "awaiting_review_count": (
        "Reports of your hospital awaiting review: {n}",
        "担当病院のレビュー待ちレポート: {n} 件",
    ),
    "panel_intro": (
        "The dashboard holds your hospital's case queue, the reports, their versions side by side,"
        " and the review (comment, return, sign off, export); the CLI does the same steps."
        " Project data is not open to the panel role.",
        "ダッシュボードでは担当病院の症例一覧、レポート、版の比較、レビュー（コメント・差し戻し・"
        "承認・出力）を扱えます。CLI でも同じ操作ができます。パネルのロールではプロジェクトのデータは"
        "開けません。",
    ),
    # admin
    "admin_title": ("Administration", "管理"),
    "admin_intro": (
        "Accounts and roles are managed with these commands:",
        "アカウントとロールは次のコマンドで管理します:",
    ),
    "no_role_intro": (
        "Your account has no role yet: an administrator grants roles after a steward approves"
        " the account.",
        "アカウントにまだロールがありません。スチュワードの承認後、管理者がロールを付与します。",
    ),
    # sign-in refusals (the login page shows both languages: it cannot know the reader's)
    "signin_pending": (
        "Your account awaits a steward's approval.",
        "アカウントはデータスチュワードの承認待ちです。",
    ),
    "signin_disabled": (
        "Your account is disabled; ask a data steward.",
        "アカウントは無効化されています。データスチュワードに問い合わせてください。",
    ),
    "signin_no_role": (
        "Your account has no role yet; ask a TRE admin to grant one.",
        "アカウントにまだロールがありません。TRE の管理者に付与を依頼してください。",
    ),
    # refusal page
    "refused_title": ("Cannot open {project}", "{project} を開けません"),
    "reason_code": ("Reason code", "理由コード"),
    "next": ("What to do next", "次にすること"),
    "back": ("Back to your TRE page", "TRE ページに戻る"),
}

# Governed reason codes (``wgs_tre.errors.Reason`` names, lower case, and two of the hub's own)
# -> (sentence, next step), each in (English, Japanese).
REFUSALS: Mapping[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "not_a_member": (
        ("You are not a member of {project}.", "あなたは {project} のメンバーではありません。"),
        (
            "Ask the project's lead to add you to its approval, or apply for a project of your own.",
            "プロジェクトの代表者に承認メンバーへの追加を依頼するか、ご自身のプロジェクトを申請してください。",
        ),
    ),
    "no_approval": (
        (
            "{project} is not approved: its application is pending review or was not approved.",
            "{project} は承認されていません（審査中、または承認されませんでした）。",
        ),
        (
            "Sessions open once two stewards have approved the application.",
            "2 名のスチュワードが申請を承認すると、セッションを開けるようになります。",
        ),
    ),
    "expired": (
        ("The approval of {project} has expired.", "{project} の承認は期限切れです。"),
        (
            "Ask a data steward to renew the approval.",
            "データスチュワードに承認の更新を依頼してください。",
        ),
    ),
    "suspended": (
        ("The approval of {project} is suspended.", "{project} の承認は一時停止されています。"),
        (
            "A data steward suspended it; ask them why and when it can be reinstated.",
            "データスチュワードが一時停止しました。理由と再開の見込みを問い合わせてください。",
        ),
    ),
    "revoked": (
        ("The approval of {project} was revoked.", "{project} の承認は取り消されました。"),
        (
            "A revoked approval does not come back: apply again if the work should continue.",
            "取り消された承認は元に戻りません。研究を続ける場合は改めて申請してください。",
        ),
    ),
    "role_not_allowed": (
        (
            "Your role cannot open project data.",
            "あなたのロールではプロジェクトのデータを開けません。",
        ),
        (
            "Project sessions are for researchers; your own work starts from your TRE page.",
            "プロジェクトのセッションは研究者用です。あなたの作業は TRE ページから始めてください。",
        ),
    ),
    "unknown_user": (
        (
            "Your account is not active in the TRE.",
            "あなたのアカウントは TRE で有効ではありません。",
        ),
        (
            "A data steward approves new accounts; ask them to approve yours.",
            "新しいアカウントはデータスチュワードが承認します。承認を依頼してください。",
        ),
    ),
    "no_such_project": (
        ("There is no project called {project}.", "{project} というプロジェクトはありません。"),
        (
            "Open a project from the list on your TRE page.",
            "TRE ページの一覧からプロジェクトを開いてください。",
        ),
    ),
    "per_project": (
        ("Sessions are per project.", "セッションはプロジェクトごとに開きます。"),
        (
            "Open one of your approved projects from your TRE page.",
            "TRE ページから承認済みのプロジェクトを開いてください。",
        ),
    ),
    "dashboard_not_allowed": (
        (
            "This dashboard is not open to your role.",
            "このダッシュボードはあなたのロールでは開けません。",
        ),
        (
            "Your own work starts from your TRE page; ask an admin if your role should change.",
            "あなたの作業は TRE ページから始めてください。ロールの変更が必要なら管理者に相談してください。",
        ),
    ),
    "refused": (
        (
            "Opening {project} was refused: {detail}.",
            "{project} を開くことは拒否されました: {detail}。",
        ),
        (
            "Ask a data steward; the refusal is in the audit log.",
            "データスチュワードに問い合わせてください。拒否は監査ログに記録されています。",
        ),
    ),
}


def say(key: str, lang: str, **values: object) -> str:
    """``TEXT[key]`` in ``lang`` (English for a language the pages do not have)."""
    english, japanese = TEXT[key]
    return (japanese if lang == "ja" else english).format(**values)


def both(key: str, **values: object) -> str:
    """``TEXT[key]`` in every language, for a page that cannot know its reader's."""
    return " / ".join(say(key, lang, **values) for lang in LANGUAGES)


def choose_language(asked: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page language: asked for (``?lang=``), else remembered (cookie), else the first of
    the browser's preferences the pages have, else English."""
    for choice in (asked, cookie):
        if choice in LANGUAGES:
            return choice
    for item in (accept_language or "").split(","):
        tag = item.split(";")[0].strip().lower().split("-")[0]
        if tag in LANGUAGES:
            return tag
    return "en"
