"""The oversight site: a static, offline HTML site over the whole ledger, from its stored entries only.

`render_site` reads every entry (audit records, round comparisons, their sealed reports) and
returns the site's files; `build_site` writes them into a fresh folder beside the target and
renames it into place, so an interrupted build leaves nothing half-written. Nothing in the site
loads from the network: the CSS and the filter script are inline, the charts are inline SVG, and a
Content-Security-Policy forbids anything else. The same ledger always gives the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError

from assay.checks.errors import AssayInputError
from assay.checks.policy import Recommendation
from assay.checks.stats import CROSS
from assay.dashboards.site_charts import OKABE_ITO, Chart, Value, line_chart
from assay.ledger.comparison import ComparisonRecord
from assay.ledger.record import AuditRecord
from assay.ledger.store import ENTRY_DIR, MANIFEST, Ledger

# A built site carries this file; `build` replaces only a folder that has it (or an empty one).
MARKER = ".assay-dashboard"
MARKER_TEXT = b"A static site written by `assay dashboard build`; the next build replaces this folder.\n"
# The site's icon (one transparent pixel), so that no page, a copied report included, asks the
# server for a missing /favicon.ico (a 404 the browser reports as a console error).
FAVICON = (
    struct.pack("<HHH", 0, 1, 1)
    + struct.pack("<BBBBHHII", 1, 1, 0, 0, 1, 32, 48, 22)
    + struct.pack("<IiiHHIIiiII", 40, 1, 2, 1, 32, 0, 8, 0, 0, 0, 0)
    + bytes(8)
)
# The sealed files of an entry the site copies: its reports, in every language and format.
REPORT_FILE = re.compile(r"^report(\.[a-z]{2})?\.(html|pdf)$")
LANGS = ("ko", "en")
SUFFIX = {"ko": ".html", "en": ".en.html"}
REPORT_OF_LANG = {"ko": "report.html", "en": "report.en.html"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

PERFORMANCE, FAIRNESS = "performance.classification", "fairness.group_metrics"
EOD = "equalized_odds_difference"
# The trend pages' metrics: (key, check, metric); "eod_max" is the largest over single attributes.
TREND_METRICS = (
    ("balanced_accuracy", PERFORMANCE, "balanced_accuracy"),
    ("roc_auc", PERFORMANCE, "roc_auc"),
    ("eod_max", FAIRNESS, EOD),
)

# The site's own words. The reports it links to carry their own translations.
LABELS: dict[str, dict[str, str]] = {
    "ko": {
        "lang_name": "한국어",
        "title": "AI 감사 감독 현황",
        "intact": "무결성 확인: 항목 {n}개, 모든 해시와 연결을 검증함",
        "broken": "무결성 실패: {problem}",
        "more": "그 밖의 문제 {n}건",
        "entries": "감사와 조달 라운드",
        "audit_id": "감사 ID",
        "service": "서비스",
        "vendor": "공급업체",
        "candidate": "후보 모델",
        "version": "버전",
        "recommendation": "권고",
        "monitoring": "모니터링",
        "created": "작성일",
        "policy": "정책",
        "report": "보고서",
        "prefect": "Prefect 실행",
        "filters": "필터",
        "all": "전체",
        "from": "시작일",
        "to": "종료일",
        "reset": "필터 해제",
        "shown": "{shown}/{total}건 표시",
        "round": "조달 라운드",
        "eligible_of": "적격 {k}/{n}",
        "unreadable": "읽을 수 없는 항목",
        "altered": "변조됨",
        "services": "서비스별 추세",
        "audits": "감사 {n}건",
        "back": "전체 목록으로",
        "trend_intro": "후보 모델마다 버전별 핵심 지표와 신뢰구간(띠)을 보여 줍니다. "
        "공개 최소 인원보다 작은 집단에 관한 값은 공개하지 않습니다.",
        "no_audits": "이 서비스의 감사가 없습니다.",
        "balanced_accuracy": "균형 정확도",
        "roc_auc": "ROC AUC",
        "eod_max": "균등화 오즈 차이 (단일 속성 중 최댓값)",
        "value": "값",
        "interval": "구간",
        "note": "비고",
        "withheld": "비공개 (집단 {min}명 미만): {attrs}",
        "not_measured": "측정되지 않음",
        "chart_title": "{candidate}: 버전별 {metric}",
        "chart_desc": "버전별 {metric} 값과 구간:",
        "x_axis": "버전",
        "regression_mark": "테두리 표시: 모니터링이 이 지표의 악화를 발견한 버전",
        "eligible": "적격",
        "eligible_with_conditions": "조건부 적격",
        "not_eligible": "부적격",
        "inconclusive": "판단 보류",
        "baseline": "기준 감사",
        "stable": "안정",
        "regression": "악화",
        "this_metric": "이 지표",
    },
    "en": {
        "lang_name": "English",
        "title": "AI audit oversight",
        "intact": "intact: {n} entries, every hash and link verified",
        "broken": "integrity failure: {problem}",
        "more": "{n} more problems",
        "entries": "Audits and procurement rounds",
        "audit_id": "audit id",
        "service": "service",
        "vendor": "vendor",
        "candidate": "candidate",
        "version": "version",
        "recommendation": "recommendation",
        "monitoring": "monitoring",
        "created": "created",
        "policy": "policy",
        "report": "report",
        "prefect": "Prefect run",
        "filters": "Filters",
        "all": "all",
        "from": "from",
        "to": "to",
        "reset": "clear filters",
        "shown": "{shown} of {total} shown",
        "round": "procurement round",
        "eligible_of": "{k} of {n} eligible",
        "unreadable": "unreadable entry",
        "altered": "altered",
        "services": "Trends by service",
        "audits": "audits: {n}",
        "back": "all audits",
        "trend_intro": "Each candidate's key metrics across its versions, the interval as a band. "
        "Values about groups smaller than the disclosure minimum are withheld.",
        "no_audits": "No audits of this service.",
        "balanced_accuracy": "balanced accuracy",
        "roc_auc": "ROC AUC",
        "eod_max": "equalized odds difference (largest over single attributes)",
        "value": "value",
        "interval": "interval",
        "note": "note",
        "withheld": "withheld (a group below {min}): {attrs}",
        "not_measured": "not measured",
        "chart_title": "{candidate}: {metric} by version",
        "chart_desc": "{metric} by version, with intervals:",
        "x_axis": "version",
        "regression_mark": "ringed: the monitor found a regression of this metric in that version",
        "eligible": "eligible",
        "eligible_with_conditions": "eligible with conditions",
        "not_eligible": "not eligible",
        "inconclusive": "inconclusive",
        "baseline": "baseline",
        "stable": "stable",
        "regression": "regression",
        "this_metric": "this metric",
    },
}

ENV = Environment(
    loader=PackageLoader("assay.dashboards", "templates/site"),
    autoescape=select_autoescape(["html", "j2"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass
class Row:
    """One ledger entry as the index lists it."""

    seq: int
    folder: str
    kind: str  # audit, round, or unreadable
    audit_id: str
    service: str
    vendors: list[str]
    candidate: str
    version: int | None
    recommendation: str | None = None
    eligible: tuple[int, int] | None = None  # a round: eligible candidates, audited candidates
    monitoring: str | None = None
    created_at: str = ""
    policy: str = ""
    reports: dict[str, str] = field(default_factory=dict)  # language → path inside the site
    copied: list[str] = field(default_factory=list)  # the entry's files copied into the site
    prefect_url: str | None = None
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def date(self) -> str:
        """Return the day the entry was created (YYYY-MM-DD), or "" when unknown."""
        return self.created_at[:10] if DATE.match(self.created_at) else ""


@dataclass
class Trend:
    """One metric of one candidate across its versions: its chart and the table beside it."""

    key: str
    chart: Chart
    rows: list[dict[str, Any]]


@dataclass
class CandidateTrend:
    """Every trend of one candidate of a service."""

    candidate: str
    vendor: str
    trends: list[Trend]


@dataclass
class Service:
    """A service's page: its title and its candidates' trends."""

    id: str
    page: str  # file name stem, e.g. service-welfare-review
    title: dict[str, str]
    audits: int
    candidates: list[CandidateTrend]


@dataclass
class Site:
    """What the site shows: every entry, every service, and the ledger's integrity."""

    rows: list[Row]
    services: list[Service]
    problems: list[str]


def _prefect_url(raw: Any, model_extra: dict[str, Any] | None) -> str | None:
    """Return the Prefect run's UI address a record carries, if any (never a non-http link)."""
    for source in (model_extra or {}, raw if isinstance(raw, dict) else {}):
        prefect = source.get("prefect")
        url = prefect.get("ui_url") if isinstance(prefect, dict) else None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return url
    return None


def _problems_of(folder: str, problems: list[str]) -> list[str]:
    """Return the integrity problems about one entry folder."""
    prefix = f"entries/{folder}"
    return [p for p in problems if p.startswith((prefix + "/", prefix + ":"))]


def _read_entry(path: Path, problems: list[str]) -> tuple[Row, AuditRecord | None]:
    """Return an entry's row (and its audit record when it is a readable audit)."""
    seq = int(path.name)
    row = Row(seq=seq, folder=path.name, kind="unreadable", audit_id=path.name, service="", vendors=[],
              candidate="", version=None, problems=_problems_of(path.name, problems))  # fmt: skip
    row.copied = sorted(p.name for p in path.iterdir() if REPORT_FILE.match(p.name) and _plain_file(p))
    row.reports = {
        lang: f"entries/{path.name}/{name}" for lang, name in REPORT_OF_LANG.items() if name in row.copied
    }
    try:
        manifest = json.loads((path / MANIFEST).read_bytes())
        row.audit_id = str(manifest["audit_id"])
        row.service = str(manifest["subject"]["service"])
        row.candidate = str(manifest["subject"]["candidate"])
        row.version = int(manifest["version"])
        row.created_at = str(manifest.get("created_at", ""))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        row.error = f"{MANIFEST}: {type(exc).__name__}"
        return row, None
    name = "comparison.json" if (path / "comparison.json").is_file() else "record.json"
    try:
        raw_bytes = (path / name).read_bytes()
    except OSError as exc:
        row.error = f"{name}: {exc.strerror or type(exc).__name__}"
        return row, None
    try:
        if name == "comparison.json":
            comparison = ComparisonRecord.model_validate_json(raw_bytes)
            audited = [c for c in comparison.candidates if c.error is None]
            row.kind = "round"
            row.candidate = comparison.round_id
            row.vendors = sorted({c.vendor for c in comparison.candidates if c.vendor})
            row.eligible = (len(comparison.eligible), len(audited))
            row.created_at = comparison.created_at
            row.policy = _policy(comparison.policy)
            row.prefect_url = _prefect_url(json.loads(raw_bytes), comparison.model_extra)
            return row, None
        record = AuditRecord.model_validate_json(raw_bytes)
    except (ValueError, ValidationError) as exc:
        row.error = f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return row, None
    row.kind = "audit"
    row.audit_id = record.audit_id
    row.service, row.candidate = record.subject.service, record.subject.candidate
    row.vendors = [record.subject.vendor]
    row.version = record.version
    row.recommendation = record.recommendation.value
    row.monitoring = record.monitoring.status if record.monitoring is not None else None
    row.created_at = record.created_at
    row.policy = _policy(record.policy)
    row.prefect_url = _prefect_url(json.loads(raw_bytes), record.model_extra)
    return row, record


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _policy(policy: dict[str, Any]) -> str:
    pid, version = policy.get("id"), policy.get("version")
    return f"{pid}@{version}" if pid and version else str(pid or "")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "service"


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _metric_value(record: AuditRecord, rows: list[dict[str, Any]], key: str) -> tuple[Value, dict[str, Any]]:
    """Return one metric of a record for the chart, and its table row (published rows only)."""
    _, check, metric = next(m for m in TREND_METRICS if m[0] == key)
    flagged = record.monitoring is not None and any(
        c.check_id == check and c.metric == metric for c in record.monitoring.regressions()
    )
    cell: dict[str, Any] = {"attribute": None, "withheld": [], "measured": True}
    if key == "eod_max":
        mine = sorted(
            (r for r in rows if r["check_id"] == check and r["metric"] == metric and r["group"] is None
             and r["attribute"] and CROSS not in r["attribute"]),
            key=lambda r: r["attribute"],
        )  # fmt: skip
        cell["withheld"] = [r["attribute"] for r in mine if r["suppressed"]]
        shown = [r for r in mine if not r["suppressed"] and r["value"] is not None]
        best = max(shown, key=lambda r: r["value"]) if shown else None
        cell["measured"] = bool(mine)
        if best is not None:
            cell["attribute"] = best["attribute"]
    else:
        best = next(
            (r for r in rows if r["check_id"] == check and r["metric"] == metric and r["attribute"] is None
             and r["group"] is None and r["value"] is not None),
            None,
        )  # fmt: skip
        cell["measured"] = best is not None
    value = Value(
        version=record.version,
        value=best["value"] if best else None,
        low=best["ci_low"] if best else None,
        high=best["ci_high"] if best else None,
        flagged=flagged,
    )
    cell.update(
        value=_fmt(value.value),
        interval=""
        if value.low is None or value.high is None
        else f"[{_fmt(value.low)}, {_fmt(value.high)}]",
    )
    return value, cell


def _services(rows: list[Row], records: dict[int, AuditRecord]) -> list[Service]:
    """Return every service of the ledger with its candidates' trends, sorted by id."""
    reports = {r.seq: r.reports for r in rows}
    ids = sorted({r.service for r in rows if r.service})
    pages: dict[str, str] = {}
    for sid in ids:
        stem, n = f"service-{_slug(sid)}", 2
        while stem in pages.values():
            stem, n = f"service-{_slug(sid)}-{n}", n + 1
        pages[sid] = stem
    services = []
    for sid in ids:
        mine = sorted(
            ((seq, rec) for seq, rec in records.items() if rec.subject.service == sid),
            key=lambda item: (item[1].subject.candidate, item[1].version, item[0]),
        )
        title: dict[str, str] = {lang: sid for lang in LANGS}
        by_candidate: dict[str, list[tuple[int, AuditRecord]]] = {}
        for _seq, rec in sorted(mine, key=lambda item: item[0]):  # the newest record names the service
            given = rec.service.get("title")
            if isinstance(given, dict):
                title = {lang: str(given.get(lang) or sid) for lang in LANGS}
        for seq, rec in mine:
            by_candidate.setdefault(rec.subject.candidate, []).append((seq, rec))
        published = {seq: rec.published_rows() for seq, rec in mine}  # small groups blanked
        candidates = []
        for candidate, versions in by_candidate.items():
            trends = []
            for i, (key, _, _) in enumerate(TREND_METRICS):
                values, table = [], []
                for seq, rec in versions:
                    value, cell = _metric_value(rec, published[seq], key)
                    values.append(value)
                    table.append(
                        {
                            **cell,
                            "version": rec.version,
                            "audit_id": rec.audit_id,
                            "date": rec.created_at[:10] if DATE.match(rec.created_at) else "",
                            "monitoring": rec.monitoring.status if rec.monitoring else None,
                            "flagged": value.flagged,
                            "disclosure_min": rec.disclosure_min,
                            "reports": reports.get(seq, {}),
                        }
                    )
                trends.append(Trend(key, line_chart(values, OKABE_ITO[i]), table))
            candidates.append(CandidateTrend(candidate, versions[-1][1].subject.vendor, trends))
        services.append(Service(sid, pages[sid], title, audits=len(mine), candidates=candidates))
    return services


def collect(ledger_dir: Path) -> Site:
    """Read every entry of the ledger (tolerating broken ones) and verify it."""
    ledger = Ledger(ledger_dir)
    problems = ledger.verify()
    rows: list[Row] = []
    records: dict[int, AuditRecord] = {}
    folders = sorted(p for p in ledger.entries_dir.iterdir() if ENTRY_DIR.match(p.name) and p.is_dir())
    for path in folders:
        row, record = _read_entry(path, problems)
        rows.append(row)
        if record is not None:
            records[row.seq] = record
    rows.sort(key=lambda r: r.seq, reverse=True)  # newest first
    return Site(rows=rows, services=_services(rows, records), problems=problems)


def _integrity(site: Site, lang: str) -> dict[str, Any]:
    words = LABELS[lang]
    if not site.problems:
        return {"ok": True, "text": words["intact"].format(n=len(site.rows)), "more": []}
    return {
        "ok": False,
        "text": words["broken"].format(problem=site.problems[0]),
        "more": site.problems[1:],
    }


def _options(site: Site) -> dict[str, list[str]]:
    order = [r.value for r in Recommendation]
    found = {r.recommendation for r in site.rows if r.recommendation}
    return {
        "service": sorted({r.service for r in site.rows if r.service}),
        "vendor": sorted({v for r in site.rows for v in r.vendors}),
        "recommendation": [r for r in order if r in found] + sorted(found - set(order)),
    }


def render_pages(site: Site) -> dict[str, str]:
    """Return the site's HTML pages (relative path → text) in every language."""
    pages: dict[str, str] = {}
    pages_of = {s.id: s.page for s in site.services}
    for lang in LANGS:
        other = next(code for code in LANGS if code != lang)
        common = {"lang": lang, "t": LABELS[lang], "other": other, "other_name": LABELS[other]["lang_name"]}
        pages[f"index{SUFFIX[lang]}"] = ENV.get_template("index.html.j2").render(
            **common,
            page="index",
            suffix=SUFFIX[lang],
            other_href=f"index{SUFFIX[other]}",
            rows=site.rows,
            services=site.services,
            service_pages=pages_of,
            integrity=_integrity(site, lang),
            options=_options(site),
            total=len(site.rows),
        )
        for service in site.services:
            pages[f"{service.page}{SUFFIX[lang]}"] = ENV.get_template("service.html.j2").render(
                **common,
                page=service.page,
                suffix=SUFFIX[lang],
                other_href=f"{service.page}{SUFFIX[other]}",
                s=service,
            )
    return pages


def _render(ledger_dir: Path) -> tuple[Site, dict[str, bytes]]:
    check_ledger(ledger_dir)
    site = collect(ledger_dir)
    files = {name: text.encode() for name, text in render_pages(site).items()}
    for row in site.rows:
        for name in row.copied:
            files[f"entries/{row.folder}/{name}"] = (ledger_dir / "entries" / row.folder / name).read_bytes()
    files[MARKER] = MARKER_TEXT
    files["favicon.ico"] = FAVICON
    return site, dict(sorted(files.items()))


def render_site(ledger_dir: Path) -> dict[str, bytes]:
    """Return every file of the site (relative path → bytes); the same ledger gives the same bytes."""
    return _render(Path(ledger_dir))[1]


def check_ledger(ledger_dir: Path) -> None:
    """Raise AssayInputError unless `ledger_dir` is a ledger folder."""
    if not ledger_dir.is_dir():
        raise AssayInputError(f"{ledger_dir}: no ledger folder there (give --ledger DIR)")
    if not (ledger_dir / "entries").is_dir():
        raise AssayInputError(f"{ledger_dir}: not a ledger (it has no entries/ folder)")


def check_out(out: Path, ledger_dir: Path) -> None:
    """Raise AssayInputError unless `out` is absent, empty, or a site an earlier build wrote."""
    if out.exists() and not out.is_dir():
        raise AssayInputError(f"--out {out}: is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise AssayInputError(
            f"--out {out}: the folder is not empty and not a dashboard an earlier build wrote; "
            "refusing to replace it (choose an empty or new folder)"
        )
    entries = (ledger_dir / "entries").resolve()
    if out.resolve() == entries or entries in out.resolve().parents:
        raise AssayInputError(f"--out {out}: inside the ledger's entries; choose a folder outside it")


@dataclass(frozen=True)
class Built:
    """What a build wrote: the folder, its number of files, entries and the integrity problems."""

    out: Path
    files: int
    entries: int
    problems: list[str]


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    """Write `files` (relative path → bytes) under `root`, each fsynced."""
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def build_site(ledger_dir: Path, out: Path) -> Built:
    """Build the site of `ledger_dir` into `out`, replacing an earlier build only as a whole."""
    ledger_dir, out = Path(ledger_dir), Path(out)
    check_ledger(ledger_dir)
    check_out(out, ledger_dir)
    site, files = _render(ledger_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    old: Path | None = None
    try:
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the site from a web server's user
        write_tree(tmp, files)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.rename(out, old / "site")
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "site").exists() and not out.exists():
            os.rename(old / "site", out)  # put the earlier build back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return Built(out=out, files=len(files), entries=len(site.rows), problems=site.problems)
