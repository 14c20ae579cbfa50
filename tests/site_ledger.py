"""A small hand-made ledger for the oversight site's tests: two services, three versions of one
candidate (the last monitored and regressed), another vendor's audit, and a procurement round."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.checks.context import Text
from assay.checks.monitoring import Monitoring, MonitorReport
from assay.checks.policy import Verdict, VerdictStatus
from assay.checks.regression import MetricChange
from assay.checks.results import CheckResult, MetricRow, Status
from assay.dashboards.comparison import render_comparison
from assay.dashboards.report import render_report
from assay.ledger.comparison import CandidateOutcome, ComparisonRecord
from assay.ledger.record import AuditRecord, Fingerprints, Subject
from assay.ledger.store import EntryInfo, Ledger

WELFARE, HOUSING = "welfare-review", "housing-aid"
PREFECT_URL = "http://127.0.0.1:4200/runs/flow-run/0a1b2c3d"
# Values about a group of 4 (below the disclosure minimum of 10): they must never be published.
SECRET_EOD = 0.9113
SECRET_TEXT = ("0.911", "0.9113")
# An intersection's gap: published, but not one of the single attributes the trend takes the max of.
CROSS_EOD = 0.6442


@dataclass(frozen=True)
class Version:
    """What one hand-made audit measured."""

    ba: tuple[float, float, float]
    auc: tuple[float, float, float] | None
    eod: dict[str, tuple[float, float, float, int]]  # attribute → value, low, high, n


# vendor-c of welfare-review across three versions (the trend page's subject).
VENDOR_C = {
    1: Version(
        ba=(0.712, 0.701, 0.723),
        auc=(0.781, 0.770, 0.792),
        eod={
            "sex": (0.041, 0.020, 0.062, 9000),
            "nationality": (0.087, 0.051, 0.123, 300),
            "disability": (SECRET_EOD, 0.5, 0.99, 4),
            "sex×nationality": (CROSS_EOD, 0.4, 0.8, 150),
        },
    ),
    2: Version(
        ba=(0.734, 0.722, 0.746),
        auc=None,  # this version's candidate gave decisions only: no ROC AUC
        eod={"sex": (0.052, 0.030, 0.074, 9100), "nationality": (0.064, 0.031, 0.097, 310)},
    ),
    3: Version(
        ba=(0.688, 0.676, 0.700),
        auc=(0.760, 0.748, 0.772),
        eod={"sex": (0.049, 0.027, 0.071, 9050), "nationality": (0.158, 0.110, 0.206, 290)},
    ),
}
OTHER = Version(ba=(0.701, 0.690, 0.712), auc=(0.770, 0.760, 0.780), eod={"sex": (0.2, 0.15, 0.25, 800)})


def _results(v: Version) -> list[CheckResult]:
    perf = [
        MetricRow(
            check_id="performance.classification",
            metric="balanced_accuracy",
            value=v.ba[0],
            ci_low=v.ba[1],
            ci_high=v.ba[2],
            n=20_000,
        )
    ]
    if v.auc is not None:
        perf.append(
            MetricRow(
                check_id="performance.classification",
                metric="roc_auc",
                value=v.auc[0],
                ci_low=v.auc[1],
                ci_high=v.auc[2],
                n=20_000,
            )
        )
    fair = [
        MetricRow(
            check_id="fairness.group_metrics",
            metric="equalized_odds_difference",
            attribute=attr,
            value=value,
            ci_low=low,
            ci_high=high,
            n=n,
        )
        for attr, (value, low, high, n) in sorted(v.eod.items())
    ]
    return [
        CheckResult(
            check_id="performance.classification",
            title="Holdout performance",
            status=Status.PASSED,
            metrics=perf,
        ),
        CheckResult(
            check_id="fairness.group_metrics", title="Group fairness", status=Status.PASSED, metrics=fair
        ),
    ]


def _verdicts(recommendation: str) -> list[Verdict]:
    """Return verdicts that imply `recommendation`."""
    gate, advisory = VerdictStatus.PASS, VerdictStatus.PASS
    if recommendation == "not_eligible":
        gate = VerdictStatus.FAIL
    elif recommendation == "inconclusive":
        gate = VerdictStatus.INCONCLUSIVE
    elif recommendation == "eligible_with_conditions":
        advisory = VerdictStatus.NEEDS_ATTESTATION
    return [
        Verdict(
            clause_id="KR-ETHICS-03",
            title=Text(ko="차별 금지", en="Non-discrimination"),
            source="x",
            verified=True,
            severity="gate",
            verdict=gate,
            evidence=[],
        ),
        Verdict(
            clause_id="KR-AIBA-34.1.2",
            title=Text(ko="설명", en="Explanation"),
            source="x",
            verified=True,
            severity="advisory",
            verdict=advisory,
            evidence=[],
        ),
    ]


def _monitoring(status: str, previous: str | None) -> MonitorReport:
    changes = []
    if status == "regression":
        changes = [
            MetricChange(
                check_id="fairness.group_metrics",
                metric="equalized_odds_difference",
                attribute="nationality",
                group=None,
                feature=None,
                n=290,
                before=0.064,
                after=0.158,
                change=0.094,
                ci_low=0.05,
                ci_high=0.14,
                real=True,
                regression=True,
            ),
            MetricChange(
                check_id="performance.classification",
                metric="balanced_accuracy",
                attribute=None,
                group=None,
                feature=None,
                n=20_000,
                before=0.734,
                after=0.688,
                change=-0.046,
                ci_low=-0.06,
                ci_high=-0.03,
                real=True,
                regression=True,
            ),
        ]
    return MonitorReport(
        run_key="k",
        previous_audit_id=previous,
        window="2026-03.parquet",
        window_sha256="cd" * 32,
        reference_status="none" if previous is None else "found",
        settings=Monitoring(),
        changes=changes,
    )


def _record(
    info: EntryInfo,
    service: str,
    candidate: str,
    vendor: str,
    created: str,
    v: Version,
    recommendation: str,
    monitoring: MonitorReport | None = None,
) -> AuditRecord:
    return AuditRecord(
        audit_id=info.audit_id,
        version=info.version,
        created_at=created,
        subject=Subject(
            service=service,
            candidate=candidate,
            vendor=vendor,
            model="scorer",
            model_version=f"1.{info.version}.0",
        ),
        service={"id": service, "title": {"ko": f"{service} 서비스", "en": f"{service} service"}},
        candidate={
            "id": candidate,
            "vendor": vendor,
            "intended_use": "ranking cases for review",
            "training_data": "2019-2024 cases",
            "input_features": ["income_decile", "household_size"],
            "output": {"positive_class": 1, "score": "probability of an irregularity", "threshold": 0.5},
            "contact": "audit@example.org",
        },
        policy={
            "id": "kr-public-service",
            "version": "0.3.0",
            "parameters": {"disclosure_min": 10},
            "title": {"ko": "공공서비스 AI 정책", "en": "Public-service AI policy"},
        },
        evaluation={"file": "holdout.parquet", "rows": 20_000},
        inputs=Fingerprints(
            data_sha256="ab" * 32,
            model_sha256="cd" * 32,
            policy_sha256="ef" * 32,
            profile_sha256="01" * 32,
            contract_sha256=None,
            code_version="0.1.0",
            libraries={},
            seed=7,
        ),
        results=_results(v),
        verdicts=_verdicts(recommendation),
        command=f"assay audit --service {service} --candidate {candidate}/candidate.yaml",
        monitoring=monitoring,
    )


def _audit(
    ledger: Ledger,
    service: str,
    candidate: str,
    vendor: str,
    created: str,
    v: Version,
    recommendation: str,
    monitoring: MonitorReport | None = None,
    prefect: bool = False,
    signer: Any = None,
) -> None:
    def build(info: EntryInfo) -> dict[str, bytes]:
        record = _record(info, service, candidate, vendor, created, v, recommendation, monitoring)
        raw = json.loads(record.model_dump_json())
        if prefect:  # a record that knows its Prefect run (not yet part of the schema)
            raw["prefect"] = {"ui_url": PREFECT_URL}
        return {
            "record.json": json.dumps(raw, indent=2, ensure_ascii=False).encode(),
            "report.html": render_report(record, lang="ko").encode(),
            "report.en.html": render_report(record, lang="en").encode(),
        }

    ledger.append(service, candidate, build, signer=signer)


def _round(ledger: Ledger, created: str, signer: Any = None) -> None:
    def build(info: EntryInfo) -> dict[str, bytes]:
        record = ComparisonRecord(
            audit_id=info.audit_id,
            round_id="welfare-review-q1",
            version=info.version,
            created_at=created,
            service={"id": WELFARE, "title": {"ko": "복지 심사", "en": "welfare review"}},
            policy={
                "id": "kr-public-service",
                "version": "0.3.0",
                "title": {"ko": "공공서비스 AI 정책", "en": "Public-service AI policy"},
            },
            data_sha256="ab" * 32,
            seed=7,
            task_runner="threads",
            candidates=[
                CandidateOutcome(
                    candidate="vendor-a",
                    vendor="Alpha Analytics",
                    audit_id="welfare-review.vendor-a.v1",
                    recommendation="not_eligible",
                    failing_clauses=["KR-ETHICS-03"],
                ),
                CandidateOutcome(
                    candidate="vendor-c",
                    vendor="Gongjeong Systems",
                    audit_id="welfare-review.vendor-c.v1",
                    recommendation="eligible",
                ),
            ],
            clauses=[],
            rankings=[],
            command="assay procure round.yaml",
        )
        return {
            "comparison.json": record.model_dump_json(indent=2).encode(),
            "report.html": render_comparison(record, lang="ko").encode(),
            "report.en.html": render_comparison(record, lang="en").encode(),
        }

    ledger.append(WELFARE, "round-welfare-review-q1", build, signer=signer)


def seal_revocation(ledger_root: Path, signer: Any = None) -> None:
    """Seal a later not-eligible audit of vendor-c: it revokes every earlier label of vendor-c."""
    created = "2026-05-01T09:00:00+09:00"
    _audit(
        Ledger(ledger_root),
        WELFARE,
        "vendor-c",
        "Gongjeong Systems",
        created,
        OTHER,
        "not_eligible",
        signer=signer,
    )


def build_ledger(root: Path, signer: Any = None) -> Path:
    """Write the hand-made ledger into `root` (signed with `signer`, an ed25519 private key, if
    given) and return it; entries 1..6 in this order:

    1 welfare-review.vendor-a.v1 (Alpha Analytics, not_eligible, 2026-01-10, knows its Prefect run)
    2 welfare-review.vendor-c.v1 (Gongjeong Systems, eligible, 2026-01-15)
    3 welfare-review.round-welfare-review-q1.v1 (round, 2026-01-20)
    4 welfare-review.vendor-c.v2 (eligible_with_conditions, monitored: baseline, 2026-02-15)
    5 housing-aid.vendor-b.v1 (Beta Data, eligible, 2026-02-20)
    6 welfare-review.vendor-c.v3 (inconclusive, monitored: regression, 2026-03-15)
    """
    ledger = Ledger(root)
    gongjeong = "Gongjeong Systems"
    _audit(
        ledger,
        WELFARE,
        "vendor-a",
        "Alpha Analytics",
        "2026-01-10T09:00:00+09:00",
        OTHER,
        "not_eligible",
        prefect=True,
        signer=signer,
    )
    _audit(
        ledger,
        WELFARE,
        "vendor-c",
        gongjeong,
        "2026-01-15T09:00:00+09:00",
        VENDOR_C[1],
        "eligible",
        signer=signer,
    )
    _round(ledger, "2026-01-20T09:00:00+09:00", signer)
    _audit(
        ledger,
        WELFARE,
        "vendor-c",
        gongjeong,
        "2026-02-15T09:00:00+09:00",
        VENDOR_C[2],
        "eligible_with_conditions",
        _monitoring("baseline", None),
        signer=signer,
    )
    _audit(
        ledger,
        HOUSING,
        "vendor-b",
        "Beta Data",
        "2026-02-20T09:00:00+09:00",
        OTHER,
        "eligible",
        signer=signer,
    )
    _audit(
        ledger,
        WELFARE,
        "vendor-c",
        gongjeong,
        "2026-03-15T09:00:00+09:00",
        VENDOR_C[3],
        "inconclusive",
        _monitoring("regression", "welfare-review.vendor-c.v2"),
        signer=signer,
    )
    return root


VOID = {"meta", "link", "input", "br", "hr", "img", "area", "base", "col", "embed", "source", "track", "wbr"}


@dataclass
class Node:
    """An element of a parsed page: its tag, attributes, children and text."""

    tag: str
    attrs: dict[str, str]
    children: list[Node]
    parts: list[str]  # its own text and its children, in order (children as Node)

    def text(self) -> str:
        """Return the element's text, whitespace collapsed."""
        out = []
        for part in self.parts:
            out.append(part.text() if isinstance(part, Node) else part)
        return " ".join("".join(out).split())

    def iter(self) -> list[Node]:
        """Return this element and every element inside it, in document order."""
        found = [self]
        for child in self.children:
            found += child.iter()
        return found

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        """Return the elements inside with this tag and these attribute values (class_ for class)."""
        want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [
            n
            for n in self.iter()[1:]
            if n.tag == tag
            and all(
                n.attrs.get(k) == v or (k == "class" and v in n.attrs.get(k, "").split())
                for k, v in want.items()
            )
        ]

    def find(self, tag: str, **attrs: str) -> Node:
        """Return the one element inside with this tag and attributes."""
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}> elements"
        return found[0]


def parse_html(text: str) -> Node:
    """Parse a page into a tree of Nodes (html.parser; enough for the site's well-formed pages)."""
    from html.parser import HTMLParser

    root = Node("#root", {}, [], [])
    stack = [root]

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            node = Node(tag, {k: v or "" for k, v in attrs}, [], [])
            stack[-1].children.append(node)
            stack[-1].parts.append(node)
            if tag not in VOID:
                stack.append(node)

        def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            node = Node(tag, {k: v or "" for k, v in attrs}, [], [])
            stack[-1].children.append(node)
            stack[-1].parts.append(node)

        def handle_endtag(self, tag: str) -> None:
            if tag in VOID:
                return
            while len(stack) > 1:
                if stack.pop().tag == tag:
                    break

        def handle_data(self, data: str) -> None:
            stack[-1].parts.append(data)

    parser = Parser(convert_charrefs=True)
    parser.feed(text)
    parser.close()
    return root
