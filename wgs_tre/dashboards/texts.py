"""What the dashboards say, in English and Japanese (one sentence or label per entry, both
languages side by side, as in :mod:`wgs_tre.hub.texts`), and refusals turned into a message a
person can act on: what was refused, why, in the page's language."""

from __future__ import annotations

from collections.abc import Mapping

from wgs_tre.errors import (
    AccessRefused,
    AlreadyExists,
    InvalidInput,
    InvalidTransition,
    NotFound,
    Reason,
    WgsTreError,
)
from wgs_tre.hub.texts import LANGUAGES

__all__ = ["LANGUAGES", "TEXT", "explain", "say"]

TEXT: Mapping[str, tuple[str, str]] = {
    "title": ("Steward dashboard", "スチュワード用ダッシュボード"),
    "switch": ("日本語", "English"),
    "loading": ("Loading…", "読み込み中…"),
    "refresh": ("Refresh", "再読み込み"),
    "tab_applications": ("Applications", "申請"),
    "tab_approvals": ("Approvals", "承認"),
    "tab_consent": ("Consent", "同意"),
    "tab_audit": ("Audit log", "監査ログ"),
    "tab_airlock": ("Airlock", "エアロック"),
    # applications
    "no_applications": ("No application is waiting for review.", "審査待ちの申請はありません。"),
    "project": ("Project", "プロジェクト"),
    "datasets": ("Datasets", "データセット"),
    "purpose": ("Purpose", "目的"),
    "organisation": ("Organisation", "組織"),
    "ethics": ("Ethics ref.", "倫理審査番号"),
    "votes": ("Votes", "投票"),
    "your_part": ("You", "あなた"),
    "may_vote": ("may vote", "投票できます"),
    "may_decide": ("may decide", "決定できます"),
    "conflict": ("conflict of interest: {detail}", "利益相反: {detail}"),
    "voted": ("you voted", "投票済み"),
    "reason": ("Reason", "理由"),
    "vote_approve": ("Vote approve", "承認に投票"),
    "vote_reject": ("Vote reject", "却下に投票"),
    "approve": ("Approve", "承認する"),
    "reject": ("Reject", "却下する"),
    # approvals
    "no_approvals": ("No approval is in force.", "有効な承認はありません。"),
    "state": ("State", "状態"),
    "expires": ("Expires", "期限"),
    "days_left": ("{days} days left", "残り {days} 日"),
    "members": ("Members", "メンバー"),
    "suspend": ("Suspend", "一時停止"),
    "reinstate": ("Reinstate", "再開"),
    "revoke": ("Revoke", "取り消し"),
    "renew": ("Renew until", "期限を延長"),
    # consent
    "participants": ("Participants", "参加者"),
    "in_force": ("Consent in force", "有効な同意"),
    "withdrawn": ("Withdrawn", "撤回"),
    "no_consent": ("No consent on record", "同意の記録なし"),
    "by_permission": ("Consent in force, by permission (DUO)", "許可（DUO）別の有効な同意"),
    "by_site": ("By site", "施設別"),
    "no_site": ("(no site named)", "（施設の記載なし）"),
    "other": ("Other", "その他"),
    "withdrawals_over_time": ("Withdrawals by month", "月別の同意撤回"),
    "recent_withdrawals": ("Recent withdrawals", "最近の同意撤回"),
    "show_withdrawals": ("Show who withdrew (audited)", "撤回した参加者を表示（監査記録あり）"),
    "participant": ("Participant", "参加者"),
    "recorded": ("Recorded", "記録日時"),
    "impact": ("Impact", "影響"),
    "impact_of": ("Impact of {participant}'s withdrawal", "{participant} の撤回の影響"),
    "impact_versions": ("Dataset versions: {versions}", "データセットのバージョン: {versions}"),
    "impact_projects": ("Projects approved to use them", "それらの利用を承認されたプロジェクト"),
    "impact_released": (
        "Outputs those projects released: {outputs}",
        "それらのプロジェクトが持ち出した成果物: {outputs}",
    ),
    "impact_models": (
        "Prognosis models trained on those versions (flagged): {models}",
        "それらのバージョンで学習した予後モデル（フラグ付き）: {models}",
    ),
    "none": ("none", "なし"),
    # audit
    "verified": (
        "Audit chain last verified {time} by {actor}: {summary}",
        "監査ログの最終検証: {time}（{actor}）: {summary}",
    ),
    "never_verified": (
        "The audit chain has not been verified yet (wgs-tre audit verify).",
        "監査ログはまだ検証されていません（wgs-tre audit verify）。",
    ),
    "verify_now": ("Verify now", "今すぐ検証"),
    "chain_intact": ("Verified: {summary}", "検証しました: {summary}"),
    "chain_broken": (
        "The audit chain is BROKEN, tell the security officer: {summary}",
        "監査ログが改ざんされています。セキュリティ責任者に連絡してください: {summary}",
    ),
    "actor": ("Who", "実行者"),
    "action": ("Action", "操作"),
    "since": ("Since", "開始日"),
    "filter": ("Filter", "絞り込み"),
    "time": ("Time (UTC)", "日時（UTC）"),
    "decision": ("Decision", "判定"),
    "events_shown": (
        "{n} events (newest last, at most {limit})",
        "{n} 件（新しいものが下、最大 {limit} 件）",
    ),
    # airlock
    "no_airlock": (
        "No output request is waiting for your review.",
        "あなたの審査を待つ持ち出し申請はありません。",
    ),
    "request_ref": ("Request", "申請"),
    "requester": ("Requester", "申請者"),
    "submission": ("Submission", "提出回"),
    "approvals_of": ("Approvals", "承認数"),
    "files": ("Files", "ファイル数"),
    "file_names": ("Files", "ファイル"),
    "findings": ("Automatic findings", "自動チェックの指摘"),
    "review": ("Review", "審査する"),
    "airlock_submitted": ("submitted", "提出済み"),
    "airlock_in_review": ("in review", "審査中"),
    "request_heading": (
        "{ref} of {project}, by {requester}: submission {submission}, {n} of {of} approvals",
        "{project} の {ref}（申請者 {requester}）: 第 {submission} 回提出、承認 {n} / {of}",
    ),
    "justification": ("Why it should leave: {text}", "持ち出す理由: {text}"),
    "file_facts": ("{size} bytes, SHA-256 {sha}…", "{size} バイト、SHA-256 {sha}…"),
    "no_findings": ("The automatic checks found nothing.", "自動チェックの指摘はありません。"),
    "not_checked": (
        "No participant pseudonym in it; no other automatic check applies to this kind of file:"
        " judge it by eye.",
        "参加者の仮名は含まれていません。この種類のファイルにはほかの自動チェックがありません。"
        "目視で確認してください。",
    ),
    "finding_cells": ("cells", "セル"),
    "finding_fixes": ("suggested fixes", "修正案"),
    "rows_shown": ("The first {n} rows are shown.", "先頭の {n} 行を表示しています。"),
    "text_shown": ("The first {n} bytes are shown.", "先頭の {n} バイトを表示しています。"),
    "file_not_shown": (
        "This kind of file is not shown here: open the reviewed copy from the CLI ({path}).",
        "この種類のファイルはここでは表示しません。CLI で審査用のコピーを開いてください（{path}）。",
    ),
    "file_too_large": (
        "Too large to show here ({size} bytes): open the reviewed copy from the CLI ({path}).",
        "大きすぎるため表示しません（{size} バイト）。CLI で審査用のコピーを開いてください（{path}）。",
    ),
    "file_missing": (
        "The reviewed copy is missing from the airlock area: tell the TRE's operators.",
        "審査用のコピーがエアロック領域にありません。TRE の運用担当者に連絡してください。",
    ),
    "file_unreadable": ("Cannot be read as a table: {why}", "表として読めません: {why}"),
    "file_empty": ("The file is empty.", "ファイルは空です。"),
    "earlier_releases": ("Earlier releases of {project}", "{project} の過去の持ち出し"),
    "no_releases": ("None yet.", "まだありません。"),
    "released_at": ("Released (UTC)", "持ち出し日時（UTC）"),
    "review_comment": (
        "Comment (required to request changes or reject)",
        "コメント（修正依頼・却下には必須）",
    ),
    "airlock_approve": ("Approve", "承認する"),
    "airlock_request_changes": ("Request changes", "修正を依頼"),
    "airlock_reject": ("Reject", "却下する"),
    "comment_required": (
        "say why in the comment: the requester reads it, and it is recorded",
        "コメントに理由を書いてください（申請者が読み、記録されます）",
    ),
    "airlock_approved": (
        "{ref} approved ({n} of {of} approvals)",
        "{ref} を承認しました（承認 {n} / {of}）",
    ),
    "airlock_released": (
        "{ref} approved and released to the project's release area",
        "{ref} を承認し、プロジェクトの持ち出し領域に公開しました",
    ),
    "airlock_changes_requested": ("changes requested on {ref}", "{ref} の修正を依頼しました"),
    "airlock_rejected": ("{ref} rejected", "{ref} を却下しました"),
    "airlock_not_released": (
        "{ref} is approved but not released. {why} (once resolved: wgs-tre airlock release {ref})",
        "{ref} は承認されましたが公開されていません。{why}（解決後: wgs-tre airlock release {ref}）",
    ),
    # expert panel
    "panel_title": ("Expert-panel dashboard", "エキスパートパネル用ダッシュボード"),
    "queue": ("Your hospital's cases", "担当病院の症例"),
    "no_cases": ("Your hospital has no case yet.", "担当病院の症例はまだありません。"),
    "case": ("Case", "症例"),
    "patient_id": ("Patient id", "患者 ID"),
    "diagnosis": ("Diagnosis", "診断"),
    "report_state": ("Report", "レポート"),
    "versions": ("Versions", "版数"),
    "updated": ("Updated (UTC)", "更新日時（UTC）"),
    "open": ("Open", "開く"),
    "no_report": ("no report yet", "レポート未作成"),
    "state_draft": ("draft", "下書き"),
    "state_in_review": ("awaiting your review", "レビュー待ち"),
    "state_returned": ("returned to its author", "差し戻し中"),
    "state_revised": ("revised, to resubmit", "修正済み（再提出待ち）"),
    "state_signed_off": ("signed off", "承認済み"),
    "report_of": (
        "Case {ref} ({patient}), version {version} of {versions}: {state}",
        "症例 {ref}（{patient}）第 {version} 版 / 全 {versions} 版: {state}",
    ),
    "summary": ("Summary", "所見の要約"),
    "variants": ("Reported variants", "報告対象のバリアント"),
    "classification": ("Class", "分類"),
    "gene": ("Gene", "遺伝子"),
    "consequence": ("Consequence", "影響"),
    "variant": ("Variant", "バリアント"),
    "zygosity": ("Zygosity", "接合性"),
    "evidence": ("Evidence", "根拠"),
    "all": ("(all)", "（すべて）"),
    "variants_shown": ("{n} of {total} variants", "{total} 件中 {n} 件"),
    "no_variants": ("No variant matches.", "該当するバリアントはありません。"),
    "notes": ("Notes", "コメント"),
    "compare": ("Compare versions", "版を比較"),
    "added": ("added", "追加"),
    "removed": ("removed", "削除"),
    "reclassified": ("reclassified {before} → {after}", "再分類 {before} → {after}"),
    "summary_changed": ("The summary changed.", "要約が変更されました。"),
    "summary_same": ("The summary is the same.", "要約は同じです。"),
    "no_differences": ("No variant differs.", "バリアントの違いはありません。"),
    "note_text": ("Comment, reason or note", "コメント・理由・メモ"),
    "comment": ("Comment", "コメントする"),
    "return": ("Return (reason required)", "差し戻す（理由必須）"),
    "sign_off": ("Sign off", "承認する"),
    "export": ("Export", "出力"),
    "download_pdf": ("Download PDF", "PDF をダウンロード"),
    "download_fhir": ("Download FHIR JSON", "FHIR JSON をダウンロード"),
    "back": ("Back to the queue", "症例一覧に戻る"),
    # outcomes
    "done": ("Done: {what}", "完了: {what}"),
    "refused": ("Refused: {why}", "拒否されました: {why}"),
}

# Governed reason codes -> what the steward reads (``{detail}``: the decision's own words).
REASONS: Mapping[Reason, tuple[str, str]] = {
    Reason.CONFLICT_OF_INTEREST: (
        "you have a conflict of interest ({detail})",
        "利益相反があります（{detail}）",
    ),
    Reason.QUORUM_NOT_MET: (
        "the committee's votes do not decide it yet ({detail})",
        "委員会の投票ではまだ決定できません（{detail}）",
    ),
    Reason.ROLE_NOT_ALLOWED: (
        "your role may not do this ({detail})",
        "あなたのロールではこの操作はできません（{detail}）",
    ),
    Reason.ALREADY_REVIEWED: (
        "you have already reviewed this submission ({detail})",
        "この提出は既に審査済みです（{detail}）",
    ),
    Reason.OTHER_HOSPITAL: (
        "the case belongs to another hospital ({detail})",
        "他の病院の症例です（{detail}）",
    ),
    Reason.UNKNOWN_USER: (
        "your account is not active in the TRE",
        "あなたのアカウントは TRE で有効ではありません",
    ),
    Reason.POLICY_UNSET: (
        "the policy does not allow it ({detail})",
        "ポリシーで許可されていません（{detail}）",
    ),
}


def say(key: str, lang: str, **values: object) -> str:
    """``TEXT[key]`` in ``lang`` (English for a language the dashboards do not have)."""
    english, japanese = TEXT[key]
    return (japanese if lang == "ja" else english).format(**values)


def explain(error: WgsTreError, lang: str) -> str:
    """One line saying why an action was refused, in ``lang``. Names (a case, a project, a
    state, an action) stay as the store spells them, so the line can be looked up."""
    ja = lang == "ja"
    if isinstance(error, AccessRefused) and error.code in REASONS:
        english, japanese = REASONS[error.code]
        why = (japanese if ja else english).format(detail=error.detail)
    elif isinstance(error, InvalidTransition) and ja:
        allowed = ", ".join(error.allowed) or "なし（最終状態）"
        why = (f"現在の状態ではできません: {error.machine} は {error.current} のため "
               f"{error.action} できません。{error.current} からできる操作: {allowed}")  # fmt: skip
    elif isinstance(error, InvalidTransition):
        why = f"not possible now: {error.message}"
    elif isinstance(error, NotFound) and ja:
        why = f"{error.kind} {error.name!r} が見つかりません"
    elif isinstance(error, AlreadyExists) and ja:
        why = f"{error.kind} {error.name!r} は既にあります"
    elif isinstance(error, InvalidInput) and ja:
        why = f"入力に誤りがあります（{error.message}）"
    elif isinstance(error, InvalidInput | NotFound | AlreadyExists):
        why = error.message
    else:
        why = getattr(error, "reason", error.message)
    return say("refused", lang, why=why)
