"""The crosswalk: for each kind of evidence, the clauses of every pack that rely on it."""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import BaseModel

from assay.checks.policy import PolicyPack


class ClauseUse(BaseModel):
    """One clause that relies on a kind of evidence, with how it judges it."""

    clause: str
    severity: Literal["gate", "advisory"]
    verified: bool
    judged: list[str]  # the ranges (measured) or question ids (attested) the clause uses
    groups: list[str] = []  # groupings other than single attributes that a range covers
    # Who set each measured range, in `judged`'s order: "agency", or "law: " and the text that sets it.
    basis: list[str] = []
    levels: list[str] | None = None


class CrosswalkRow(BaseModel):
    """A kind of evidence and, per pack id, the clauses that rely on it."""

    evidence: str  # "check metric" when measured, the question topic when attested
    kind: Literal["measured", "attested"]
    packs: dict[str, list[ClauseUse]]


def crosswalk(packs: list[PolicyPack]) -> list[CrosswalkRow]:
    """Return one row per kind of evidence used by any pack: measured ones first, then attested ones."""
    uses: dict[tuple[str, str], dict[str, list[ClauseUse]]] = defaultdict(lambda: defaultdict(list))
    for pack in packs:
        for clause in pack.clauses:
            found: dict[tuple[str, str], ClauseUse] = {}
            items = [
                (("measured", f"{e.check} {e.metric}"), e.bounds(), e.groups, _basis(e.basis, e.cite))
                for e in clause.evidence
            ]
            items += [(("attested", q.topic), q.id, "attributes", None) for q in clause.questions]
            for key, judged, groups, basis in items:
                use = found.setdefault(
                    key,
                    ClauseUse(
                        clause=clause.id,
                        severity=clause.severity,
                        verified=clause.verified,
                        judged=[],
                        levels=clause.levels,
                    ),
                )
                use.judged.append(judged)
                if basis is not None:
                    use.basis.append(basis)
                if groups != "attributes" and groups not in use.groups:
                    use.groups.append(groups)
            for key, use in found.items():
                uses[key][pack.id].append(use)
    order = sorted(uses, key=lambda k: (k[0] != "measured", k[1]))
    return [CrosswalkRow(evidence=name, kind=kind, packs=dict(uses[(kind, name)])) for kind, name in order]


def _basis(basis: str, cite: str | None) -> str:
    """Say who set a threshold: the agency, or the text of law that sets it."""
    return f"law: {cite}" if basis == "law" else "agency"
