"""Builders shared by the check tests (pytest puts this folder on sys.path)."""

from __future__ import annotations

from assay.checks.context import SensitiveAttribute, ServiceProfile, Text


def make_profile(
    *attributes: str | SensitiveAttribute,
    favourable: bool = False,
    reference: dict[str, str] | None = None,
    shares: dict[str, dict[str, float]] | None = None,
) -> ServiceProfile:
    """Return a test service profile over columns named like its attributes (label column `y`)."""
    reference, shares = reference or {}, shares or {}
    attrs = [
        a
        if isinstance(a, SensitiveAttribute)
        else SensitiveAttribute(
            name=a, column=a, reference_group=reference.get(a), population_shares=shares.get(a)
        )
        for a in attributes
    ]
    return ServiceProfile(
        id="test",
        title=Text(ko="시험", en="test"),
        decision=Text(ko="시험", en="test"),
        risk_tier="high-impact",
        id_column="id",
        label={"column": "y", "positive": 1},
        positive_decision_is_favourable=favourable,
        sensitive_attributes=attrs,
    )
