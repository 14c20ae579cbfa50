"""Policy packs and the verdict engine: clause verdicts from evidence, the recommendation from them."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, model_validator

from assay.checks.checklist import Answer, ImpactScheme, LevelFinding, Question
from assay.checks.context import CheckSettings, Text
from assay.checks.monitoring import Monitoring
from assay.checks.phrase import N_, Phrase, joined, said
from assay.checks.ranking import RankMetric
from assay.checks.registry import all_checks
from assay.checks.results import CheckResult, MetricRow, Pair, Status
from assay.checks.settle import Shortfall, beyond, intervals, shortfall, within
from assay.checks.stats import CROSS

DISCLOSURE_MIN = CheckSettings().disclosure_min


class Evidence(BaseModel):
    """One measurement a clause relies on, and the range it must lie in."""

    # The schema says what the validator below says: a law's threshold names the text that sets it.
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"if": {"properties": {"basis": {"const": "law"}}}, "then": {"required": ["cite"]}},
    )

    check: str
    metric: str
    # A threshold must be a number a value can be compared with: .nan would pass everything.
    min: FiniteFloat | None = None
    max: FiniteFloat | None = None
    attribute: str | None = None
    # Which groupings' rows count: single attributes, their intersections, or both.
    groups: Literal["attributes", "intersections", "all"] = "attributes"
    # Who set the threshold: a text of law (`cite` names where) or the agency's own choice. Reports
    # and reasons never present an agency threshold as the law (../shared/REGULATIONS.md).
    basis: Literal["law", "agency"]
    cite: str | None = Field(default=None, min_length=1)
    why: Text | None = None

    @model_validator(mode="after")
    def _known_and_possible(self) -> Evidence:
        checks = all_checks()
        if self.check not in checks:
            raise ValueError(f"unknown check id {self.check!r}")
        if self.metric not in checks[self.check].metrics:
            raise ValueError(f"check {self.check!r} reports no metric {self.metric!r}")
        if self.min is None and self.max is None:
            raise ValueError("evidence needs a 'min' or a 'max'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"impossible range: min {self.min} > max {self.max}")
        if self.basis == "law" and self.cite is None:
            raise ValueError("a threshold with 'basis: law' needs 'cite': the text that sets the number")
        return self

    def bounds(self) -> str:
        """Return the allowed range as text."""
        if self.min is not None and self.max is not None:
            return f"[{self.min:g}, {self.max:g}]"
        return f"≥ {self.min:g}" if self.min is not None else f"≤ {self.max:g}"

    def threshold(self) -> Phrase:
        """Return the threshold as a phrase saying whose it is: the agency's, or the text's that sets it."""
        args: dict[str, Phrase | Text | str] = {"metric": self.metric, "bounds": self.bounds()}
        if self.basis == "law" and self.cite:
            return Phrase(
                template=N_("the threshold {cite} sets for {metric} ({bounds})"),
                args={**args, "cite": self.cite},
            )
        return Phrase(template=N_("the agency's threshold for {metric} ({bounds})"), args=args)


class Clause(BaseModel):
    """A clause of a law or guideline, with the evidence and the checklist questions that answer it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z][A-Z0-9]*(-[A-Za-z0-9.()]+)+$")
    title: Text
    source: str
    verified: bool
    severity: Literal["gate", "advisory"] = "gate"
    evidence: list[Evidence] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list)
    # The impact levels (of the pack's `impact_levels`) at which the clause applies; None: at all.
    levels: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _answerable(self) -> Clause:
        if not self.evidence and not self.questions:
            raise ValueError("a clause needs 'evidence', 'questions' or both")
        return self


class Override(BaseModel):
    """A change an extending pack makes to a clause of its base: a threshold or the severity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clause: str
    check: str | None = None
    metric: str | None = None
    groups: Literal["attributes", "intersections", "all"] | None = None
    min: FiniteFloat | None = None
    max: FiniteFloat | None = None
    severity: Literal["gate", "advisory"] | None = None

    @model_validator(mode="after")
    def _says_what_changes(self) -> Override:
        if (self.check is None) != (self.metric is None):
            raise ValueError("'check' and 'metric' go together")
        if self.check is None and (self.min is not None or self.max is not None):
            raise ValueError("a new 'min' or 'max' needs the 'check' and 'metric' it applies to")
        if self.check is not None and self.min is None and self.max is None:
            raise ValueError("give the new 'min' and/or 'max' for this evidence")
        if self.check is None and self.severity is None:
            raise ValueError("an override changes a threshold or the 'severity'")
        return self


def extend_pack(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Return the pack `child` describes on top of `base` (both as loaded YAML mappings).

    The child keeps the base's clauses, may override their thresholds or severity, adds its own
    clauses, and updates the base's parameters; its id, version and titles are its own.
    """
    merged = {k: v for k, v in base.items() if k not in ("clauses", "parameters", "lineage")}
    merged.update(
        {k: v for k, v in child.items() if k not in ("extends", "overrides", "clauses", "parameters")}
    )
    merged["parameters"] = {**base.get("parameters", {}), **child.get("parameters", {})}
    clauses = [copy.deepcopy(c) for c in base.get("clauses", [])]
    by_id = {c.get("id"): c for c in clauses}
    for i, raw in enumerate(child.get("overrides") or []):
        try:
            ov = Override.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"overrides.{i}{'.' + where if where else ''}: {first['msg']}") from None
        clause = by_id.get(ov.clause)
        if clause is None:
            raise ValueError(f"overrides.{i}.clause: the base pack has no clause {ov.clause!r}")
        if ov.severity is not None:
            clause["severity"] = ov.severity
        if ov.check is None:
            continue
        hits = [
            e
            for e in clause.get("evidence", [])
            if e.get("check") == ov.check
            and e.get("metric") == ov.metric
            and (ov.groups is None or e.get("groups", "attributes") == ov.groups)
        ]
        if not hits:
            raise ValueError(f"overrides.{i}: clause {ov.clause} has no evidence {ov.check} {ov.metric}")
        for e in hits:
            e.update({k: v for k, v in (("min", ov.min), ("max", ov.max)) if v is not None})
            # A threshold the extending pack changed is its own choice, whatever set the base's.
            e.update(basis="agency")
            e.pop("cite", None)
    merged["clauses"] = clauses + list(child.get("clauses") or [])
    merged["lineage"] = [*base.get("lineage", []), f"{base.get('id')}@{base.get('version')}"]
    return merged


class PolicyPack(BaseModel):
    """A named set of clauses with thresholds and the statistical settings they assume."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: str
    # The packs this one extends, oldest first (`id@version`); filled in when it is loaded.
    lineage: list[str] = Field(default_factory=list)
    title: Text
    jurisdiction: str
    applies_to: list[str] = Field(default_factory=list)
    parameters: CheckSettings = Field(default_factory=CheckSettings)
    impact_levels: ImpactScheme | None = None
    # What a procurement round ranks candidates on (group metrics once per sensitive attribute).
    ranking: list[RankMetric] = Field(
        default_factory=lambda: [
            RankMetric(metric="equalized_odds_difference"),
            RankMetric(metric="fpr_gap"),
            RankMetric(metric="balanced_accuracy"),
        ],
        min_length=1,
    )
    # What a recurring audit (`assay monitor`) watches and how much worse it tolerates.
    monitoring: Monitoring = Field(default_factory=Monitoring)
    clauses: list[Clause] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_clause_ids(self) -> PolicyPack:
        for kind, ids in (
            ("clause", [c.id for c in self.clauses]),
            ("question", [q.id for c in self.clauses for q in c.questions]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{kind} ids used twice: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _levels_known(self) -> PolicyPack:
        scheme = self.impact_levels
        kinds = {q.id: q.kind for _, q in self.questions()}
        for field in ("score", "maximum", "mitigation", "mitigation_maximum") if scheme else ():
            qid = getattr(scheme, field)
            if qid is not None and kinds.get(qid) != "number":
                raise ValueError(f"impact_levels.{field}: {qid!r} is not a number question of this pack")
        for i, clause in enumerate(self.clauses):
            if clause.levels is None:
                continue
            if scheme is None:
                raise ValueError(f"clauses.{i}.levels: the pack defines no 'impact_levels'")
            unknown = [lv for lv in clause.levels if lv not in scheme.level_ids()]
            if unknown:
                known = ", ".join(scheme.level_ids())
                raise ValueError(f"clauses.{i}.levels: unknown level {unknown[0]!r} (known: {known})")
        return self

    def questions(self) -> list[tuple[Clause, Question]]:
        """Return every checklist question with its clause, in pack order."""
        return [(c, q) for c in self.clauses for q in c.questions]

    def sha256(self) -> str:
        """Return the SHA-256 of the pack as judged: its canonical JSON, the packs it extends included."""
        # Not the top file's bytes: a change to an `extends` base must change the fingerprint too.
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class VerdictStatus(StrEnum):
    """A clause's verdict."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NOT_ASSESSED = "not_assessed"
    NEEDS_ATTESTATION = "needs_attestation"
    # The clause does not apply at the impact level the checklist's answers imply, or an answer
    # claims an exemption the text allows (a question with `exempts: true`).
    NOT_APPLICABLE = "not_applicable"


# Worst first: a clause takes the worst verdict of its evidence.
SEVERITY_ORDER = [
    VerdictStatus.FAIL,
    VerdictStatus.INCONCLUSIVE,
    VerdictStatus.NOT_ASSESSED,
    VerdictStatus.NEEDS_ATTESTATION,
    VerdictStatus.PASS,
    VerdictStatus.NOT_APPLICABLE,
]


def worst(statuses: list[VerdictStatus]) -> VerdictStatus:
    """Return the worst of some verdicts (pass when there are none)."""
    return min(statuses, key=SEVERITY_ORDER.index, default=VerdictStatus.PASS)


class EvidenceVerdict(BaseModel):
    """The verdict on one evidence item of a clause."""

    check: str
    metric: str
    bounds: str
    verdict: VerdictStatus
    # In English; `phrases` says the same in a form each report language can say (records sealed
    # before phrases existed have none, and their reports quote the English).
    reasons: list[str]
    phrases: list[Phrase] = Field(default_factory=list)
    # For an inconclusive verdict: why each undecided row is undecided and what would settle it.
    shortfalls: list[Shortfall] = Field(default_factory=list)
    # Who set a measured item's threshold (None for checklist items, and in records sealed before).
    basis: Literal["law", "agency"] | None = None
    cite: str | None = None

    @classmethod
    def of(
        cls,
        check: str,
        metric: str,
        bounds: str,
        verdict: VerdictStatus,
        phrases: list[Phrase],
        shortfalls: list[Shortfall] | None = None,
        evidence: Evidence | None = None,
    ) -> EvidenceVerdict:
        """Return the verdict on one evidence item (`evidence` when measured), its reasons as phrases."""
        return cls(
            check=check,
            metric=metric,
            bounds=bounds,
            verdict=verdict,
            reasons=[str(p) for p in phrases],
            phrases=phrases,
            shortfalls=shortfalls or [],
            basis=evidence.basis if evidence else None,
            cite=evidence.cite if evidence else None,
        )

    def said(self, lang: str, translate: Callable[[str], str] | None = None) -> list[str]:
        """Return the reasons in `lang` (in English when the record predates phrases)."""
        return said(self.phrases, self.reasons, lang, translate)


class Verdict(BaseModel):
    """A clause's verdict, the verdict on each of its evidence items and the reasons behind it."""

    clause_id: str
    title: Text
    source: str
    verified: bool
    severity: Literal["gate", "advisory"]
    verdict: VerdictStatus
    evidence: list[EvidenceVerdict]

    @property
    def reasons(self) -> list[str]:
        """Return the reasons of every evidence item, in order."""
        return [reason for ev in self.evidence for reason in ev.reasons]

    def said(self, lang: str, translate: Callable[[str], str] | None = None) -> list[str]:
        """Return the reasons of every evidence item in `lang`, in order."""
        return [reason for ev in self.evidence for reason in ev.said(lang, translate)]

    def failing_metrics(self) -> list[str]:
        """Return the metrics whose evidence failed."""
        return [ev.metric for ev in self.evidence if ev.verdict == VerdictStatus.FAIL]

    def finding(self) -> Phrase | None:
        """Return what a failed clause's verdict says, naming whose thresholds it fails (None unless failed).

        A clause failed only on the agency's thresholds is not said to be breached: no text set them.
        """
        failed = [ev for ev in self.evidence if ev.verdict == VerdictStatus.FAIL]
        if not failed:
            return None
        args: dict[str, Phrase | Text | str] = {
            "clause": self.clause_id,
            "metrics": ", ".join(dict.fromkeys(ev.metric for ev in failed)),
        }
        measured = [ev for ev in failed if ev.check != "checklist"]
        if len(measured) < len(failed) or any(ev.basis == "law" for ev in measured):
            # A checklist answer of no, or a threshold a text sets: the clause itself is failed.
            return Phrase(template=N_("fails {clause} ({metrics})"), args=args)
        if all(ev.basis == "agency" for ev in measured):
            return Phrase(template=N_("fails the agency's thresholds under {clause} ({metrics})"), args=args)
        # Sealed before thresholds said whose they were: the pack's, whoever set them.
        return Phrase(template=N_("fails the pack's thresholds under {clause} ({metrics})"), args=args)


class Recommendation(StrEnum):
    """The overall recommendation, derived from the verdicts alone."""

    ELIGIBLE = "eligible"
    ELIGIBLE_WITH_CONDITIONS = "eligible_with_conditions"
    NOT_ELIGIBLE = "not_eligible"
    INCONCLUSIVE = "inconclusive"


def _where(row: MetricRow) -> str:
    parts = [f"{row.attribute}={row.group}" if row.group else row.attribute, row.feature]
    inner = ", ".join(p for p in parts if p)
    return f"{row.metric}[{inner}]" if inner else row.metric


def _fmt(row: MetricRow) -> str:
    value = "undefined" if row.value is None else f"{row.value:.4g}"
    if row.ci_low is None and row.ci_high is None:
        return value
    low = "-∞" if row.ci_low is None else f"{row.ci_low:.4g}"
    high = "∞" if row.ci_high is None else f"{row.ci_high:.4g}"
    return f"{value} [{low}, {high}]"


# Said instead of a value about a group below the disclosure minimum: reasons are published too.
WITHHELD = Text(ko="비공개", en="withheld")

# The reasons of records sealed before thresholds said whose they were: kept in the catalogs so that
# re-rendering such a record says its sealed sentences in Korean as before.
SEALED_BEFORE_BASIS = (
    N_("{where} = {value} within {bounds}"),
    N_("{where} = {value} outside {bounds}"),
    N_("{where} = {value} outside {bounds}, decided by {first} against {second}"),
    N_(
        "{where} = {value}: the groups with enough evidence are within {bounds}, "
        "but groups with too little evidence could still breach it: {groups}; {settle}"
    ),
    N_("{where} = {value}: the interval straddles {bounds} ({first} against {second}); {settle}"),
    N_("{where} = {value}: the interval straddles {bounds}; {settle}"),
    N_("{check} {metric}: all {count} values within {bounds}"),
)


def judge_row(
    row: MetricRow, ev: Evidence, min_group_size: int, disclosure_min: int = DISCLOSURE_MIN
) -> tuple[VerdictStatus, Phrase, Shortfall | None]:
    """Judge one metric row against the evidence's range, and say what an undecided row lacks.

    It fails only when the interval resting on enough evidence lies beyond the range; it passes when
    the interval every group's evidence allows lies within it; otherwise it is inconclusive. The
    reason withholds the value of a row about groups smaller than `disclosure_min`, as the
    published metric tables do.
    """
    where = f"{ev.check} {_where(row)}"
    if row.value is None and row.basis is None:
        return (
            VerdictStatus.INCONCLUSIVE,
            Phrase(template=N_("{where}: undefined for this data"), args={"where": where}),
            Shortfall(where=where, cause="undefined"),
        )
    about_groups = row.group is not None or row.attribute is not None
    small = about_groups and row.n is not None and row.n < disclosure_min
    args: dict[str, Phrase | Text | str] = {
        "where": where,
        "value": WITHHELD if small else _fmt(row),
        "threshold": ev.threshold(),
    }
    bounds = (ev.min, ev.max)
    decisive, every = intervals(row, min_group_size)
    if within(every, bounds):
        return VerdictStatus.PASS, Phrase(template=N_("{where} = {value} meets {threshold}"), args=args), None
    if decisive is not None and beyond(decisive, bounds):
        deciders = _deciding_pair(row, bounds)
        if deciders is None:
            return (
                VerdictStatus.FAIL,
                Phrase(template=N_("{where} = {value} does not meet {threshold}"), args=args),
                None,
            )
        reason = Phrase(
            template=N_("{where} = {value} does not meet {threshold}, decided by {first} against {second}"),
            args={**args, "first": deciders.first.group, "second": deciders.second.group},
        )
        return VerdictStatus.FAIL, reason, None
    short = shortfall(row, where, bounds, min_group_size)
    return VerdictStatus.INCONCLUSIVE, _undecided(short, row, args, min_group_size, small), short


def _deciding_pair(row: MetricRow, bounds: tuple[float | None, float | None]) -> Pair | None:
    """Return the pair of groups that proves a summary's breach (None for other rows)."""
    basis = row.basis
    if basis is None or basis.decisive is None:
        return None
    # Beyond a maximum, the span's lower end proves it; below a minimum, its upper end does.
    if bounds[1] is not None and basis.decisive.low is not None and basis.decisive.low > bounds[1]:
        return basis.decisive.low_pair
    return basis.decisive.high_pair


def _undecided(
    short: Shortfall, row: MetricRow, args: dict[str, Phrase | Text | str], minimum: int, withheld: bool
) -> Phrase:
    """Return the reason of an inconclusive row: why it is undecided, and what would settle it."""
    parts: list[Phrase] = []
    if short.detectable is not None and not withheld:
        parts.append(
            Phrase(
                template=N_("at these sizes a value beyond {detectable} is found with 80% power"),
                args={"detectable": f"{short.detectable:.3g}"},
            )
        )
    if short.more:
        people = [
            Phrase(template=N_("about {people} more people in {group}"), args={"people": str(n), "group": g})
            if g
            else Phrase(template=N_("about {people} more people"), args={"people": str(n)})
            for g, n in short.more.items()
        ]
        parts.append(
            Phrase(
                template=N_("{people} would settle it at the observed effect"),
                args={"people": joined(people, ", ")},
            )
        )
    elif short.cause in ("straddles", "small_groups"):
        parts.append(Phrase(template=N_("no number of people settles it at the observed effect")))
    settle = joined(parts, "; ")
    if short.cause == "small_groups":
        return Phrase(
            template=N_(
                "{where} = {value}: the groups with enough evidence meet {threshold}, "
                "but groups with too little evidence could still miss it: {groups}; {settle}"
            ),
            args={**args, "groups": ", ".join(short.groups), "settle": settle},
        )
    if short.cause == "thin":
        template = N_("{where} = {value}: rests on n={n}, below the minimum evidence of {minimum}; {settle}")
        if row.basis is not None and row.basis.is_summary:
            template = N_(
                "{where} = {value}: fewer than two groups reach the minimum evidence of {minimum}: "
                "{groups}; {settle}"
            )
        return Phrase(
            template=template,
            args={
                **args,
                "n": str(row.n),
                "minimum": str(minimum),
                "groups": ", ".join(short.groups),
                "settle": settle,
            },
        )
    if short.groups and row.basis is not None and row.basis.is_summary:
        return Phrase(
            template=N_(
                "{where} = {value}: the interval straddles {threshold} ({first} against {second}); {settle}"
            ),
            args={**args, "first": short.groups[0], "second": short.groups[1], "settle": settle},
        )
    return Phrase(
        template=N_("{where} = {value}: the interval straddles {threshold}; {settle}"),
        args={**args, "settle": settle},
    )


def _in_scope(row: MetricRow, groups: str) -> bool:
    """Say whether a row belongs to the groupings an evidence item covers."""
    if row.attribute is None or groups == "all":
        return True
    return (CROSS in row.attribute) == (groups == "intersections")


def judge_evidence(
    ev: Evidence, result: CheckResult | None, min_group_size: int, disclosure_min: int = DISCLOSURE_MIN
) -> tuple[VerdictStatus, list[Phrase], list[Shortfall]]:
    """Judge one evidence item from its check's result; reasons list the rows that decide it."""
    item = {"check": ev.check, "metric": ev.metric}
    if result is None:
        return (
            VerdictStatus.NOT_ASSESSED,
            [Phrase(template=N_("{check} {metric}: the check was not run"), args=item)],
            [],
        )
    if result.status in (Status.NOT_ASSESSED, Status.ERROR):
        # The check's own messages, as phrases when it has them (records sealed before had none).
        phrased = len(result.phrases) == len(result.messages)
        why = joined(result.phrases, "; ") if phrased else "; ".join(result.messages)
        return (
            VerdictStatus.NOT_ASSESSED,
            [Phrase(template=N_("{check} {metric}: {why}"), args={**item, "why": why})],
            [],
        )
    rows = [r for r in result.rows(ev.metric) if ev.attribute is None or r.attribute == ev.attribute]
    rows = [r for r in rows if ev.attribute is not None or _in_scope(r, ev.groups)]
    if not rows:
        return (
            VerdictStatus.NOT_ASSESSED,
            [Phrase(template=N_("{check} reported no {metric}"), args=item)],
            [],
        )
    judged = [judge_row(r, ev, min_group_size, disclosure_min) for r in rows]
    status = worst([s for s, _, _ in judged])
    if status == VerdictStatus.PASS:
        return (
            status,
            [
                Phrase(
                    template=N_("{check} {metric}: all {count} values meet {threshold}"),
                    args={**item, "count": str(len(rows)), "threshold": ev.threshold()},
                )
            ],
            [],
        )
    decided = [(reason, short) for s, reason, short in judged if s == status]
    return status, [reason for reason, _ in decided], [short for _, short in decided if short is not None]


def judge_question(question: Question, answer: Answer | None) -> tuple[VerdictStatus, Phrase]:
    """Judge one checklist question from its answer: unanswered needs a person to attest."""
    args: dict[str, Phrase | Text | str] = {"question_id": question.id, "question": question.text}
    if (
        answer is None
        or answer.answer is None
        or (isinstance(answer.answer, str) and not answer.answer.strip())
    ):
        return VerdictStatus.NEEDS_ATTESTATION, Phrase(
            template=N_("checklist {question_id}: unanswered ({question})"), args=args
        )
    args.update(
        who=f"{answer.answered_by}, {answer.answered_at}",
        answer=str(answer.answer),
        given=repr(answer.answer),
    )
    if question.kind == "text":
        return VerdictStatus.PASS, Phrase(template=N_("checklist {question_id}: answered ({who})"), args=args)
    if question.kind == "number":
        if answer.number() is None:
            return VerdictStatus.NEEDS_ATTESTATION, Phrase(
                template=N_("checklist {question_id}: {given} is not a number ({who})"), args=args
            )
        return VerdictStatus.PASS, Phrase(template=N_("checklist {question_id}: {answer} ({who})"), args=args)
    value = answer.yes_no()
    if value is True:
        return VerdictStatus.PASS, Phrase(template=N_("checklist {question_id}: yes ({who})"), args=args)
    if value is False:
        return VerdictStatus.FAIL, Phrase(
            template=N_("checklist {question_id}: no ({who}): {question}"), args=args
        )
    return VerdictStatus.NEEDS_ATTESTATION, Phrase(
        template=N_("checklist {question_id}: {given} is not yes or no ({who})"), args=args
    )


def judge_exemption(question: Question, answer: Answer | None) -> EvidenceVerdict:
    """Judge an exempting question: "yes" makes its clause not apply; "no" or none leaves it applying."""
    args: dict[str, Phrase | Text | str] = {"question_id": question.id, "question": question.text}
    value = None if answer is None or answer.answer is None else answer.yes_no()
    if value is None:
        status = VerdictStatus.PASS
        why = Phrase(template=N_("checklist {question_id}: no exemption claimed ({question})"), args=args)
    else:
        assert answer is not None
        args["who"] = f"{answer.answered_by}, {answer.answered_at}"
        status = VerdictStatus.NOT_APPLICABLE if value else VerdictStatus.PASS
        template = (
            N_("checklist {question_id}: yes ({who}): exempt, so the clause does not apply ({question})")
            if value
            else N_("checklist {question_id}: no ({who}): not exempt, so the clause applies")
        )
        why = Phrase(template=template, args=args)
    return EvidenceVerdict.of("checklist", question.id, "exempt: yes / no", status, [why])


def evaluate(
    policy: PolicyPack, results: dict[str, CheckResult], answers: dict[str, Answer] | None = None
) -> list[Verdict]:
    """Return one verdict per clause of the policy from the checks' results and the checklist answers."""
    answers = answers or {}
    scheme = policy.impact_levels
    finding = scheme.assess(answers) if scheme else None
    verdicts = []
    for clause in policy.clauses:
        judged = _level_items(clause, scheme, finding) if scheme and finding else []
        if any(e.verdict == VerdictStatus.NOT_APPLICABLE for e in judged):
            verdicts.append(_verdict(clause, judged))
            continue
        exemptions = [judge_exemption(q, answers.get(q.id)) for q in clause.questions if q.exempts]
        claimed = [e for e in exemptions if e.verdict == VerdictStatus.NOT_APPLICABLE]
        if claimed:
            verdicts.append(_verdict(clause, claimed))
            continue
        judged += exemptions
        for question in (q for q in clause.questions if not q.exempts):
            status, why = judge_question(question, answers.get(question.id))
            bounds = {"yes_no": "yes", "text": "answered", "number": "a number ≥ 0"}[question.kind]
            judged.append(EvidenceVerdict.of("checklist", question.id, bounds, status, [why]))
        for ev in clause.evidence:
            status, why, short = judge_evidence(
                ev, results.get(ev.check), policy.parameters.min_group_size, policy.parameters.disclosure_min
            )
            judged.append(EvidenceVerdict.of(ev.check, ev.metric, ev.bounds(), status, why, short, ev))
        verdicts.append(_verdict(clause, judged))
    return verdicts


def _verdict(clause: Clause, judged: list[EvidenceVerdict]) -> Verdict:
    return Verdict(
        clause_id=clause.id,
        title=clause.title,
        source=clause.source,
        verified=clause.verified,
        severity=clause.severity,
        verdict=worst([e.verdict for e in judged]),
        evidence=judged,
    )


def _level_items(clause: Clause, scheme: ImpactScheme, finding: LevelFinding) -> list[EvidenceVerdict]:
    """Return what the impact level says about a clause: whether it applies, and the level itself
    on the clause that asks for the scores."""
    items = [] if clause.levels is None else [_applicability(clause.levels, finding)]
    if scheme.score in {q.id for q in clause.questions}:
        items.append(
            EvidenceVerdict.of(
                "checklist",
                "impact_level",
                " / ".join(scheme.level_ids()),
                VerdictStatus.PASS if finding.level else VerdictStatus.NEEDS_ATTESTATION,
                [_finding_phrase(finding)],
            )
        )
    return items


def _applicability(levels: list[str], finding: LevelFinding) -> EvidenceVerdict:
    """Say whether a clause that applies only at some impact levels applies at the level found.

    An unknown level is not guessed: the clause is judged as if it applied, and waits for the
    answers that settle the level.
    """
    at = " / ".join(levels)
    args: dict[str, Phrase | Text | str] = {"levels": at, "finding": _finding_phrase(finding)}
    if finding.level is None:
        status, template = VerdictStatus.NEEDS_ATTESTATION, N_("applies at levels {levels}; {finding}")
    elif finding.level in levels:
        status, template = VerdictStatus.PASS, N_("applies at levels {levels}; {finding}")
    else:
        status, template = VerdictStatus.NOT_APPLICABLE, N_("applies only at levels {levels}; {finding}")
    return EvidenceVerdict.of("checklist", "impact_level", at, status, [Phrase(template=template, args=args)])


def _finding_phrase(finding: LevelFinding) -> Phrase:
    return finding.phrase or Phrase(template="{reason}", args={"reason": finding.reason})


def recommend(verdicts: list[Verdict]) -> Recommendation:
    """Derive the overall recommendation from the clause verdicts."""
    applicable = [v for v in verdicts if v.verdict != VerdictStatus.NOT_APPLICABLE]
    gates = [v.verdict for v in applicable if v.severity == "gate"]
    others = [v.verdict for v in applicable if v.severity != "gate"]
    if VerdictStatus.FAIL in gates:
        return Recommendation.NOT_ELIGIBLE
    if any(v in (VerdictStatus.INCONCLUSIVE, VerdictStatus.NOT_ASSESSED) for v in gates):
        return Recommendation.INCONCLUSIVE
    if any(v != VerdictStatus.PASS for v in gates + others):
        return Recommendation.ELIGIBLE_WITH_CONDITIONS
    return Recommendation.ELIGIBLE
