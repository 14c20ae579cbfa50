"""Explanations on welfare-review: who relies on what, exactly, stably, with individual reasons.

The demo vendors are trained here on the historical split, as `assay demo` does: vendor-a takes
sex, nationality and age as inputs, vendor-b their proxies (language, province), vendor-c neither.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from assay.checks.context import AuditContext, CheckSettings, FeatureInfo, Text
from assay.checks.explain import global_importance
from assay.checks.reasons import individual_reasons, pseudonym, sentences
from assay.checks.surrogate import surrogate
from assay.data.vendors import THRESHOLD, VENDORS, train_model
from assay.models.candidate import EstimatorModel

SPEC = {v.id: v for v in VENDORS}


@pytest.fixture(scope="module")
def contexts(profile, train, holdout) -> dict[str, AuditContext]:
    """Return an audit context per demo vendor, with its model, scores and decisions."""
    out = {}
    for vendor_id, spec in SPEC.items():
        model = train_model(train, spec.features, "irregularity_found", seed=7)
        access = EstimatorModel(model, spec.features, 1)
        scores = access.predict_scores(holdout)
        out[vendor_id] = AuditContext(
            profile=profile,
            data=holdout,
            seed=7,
            scores=scores,
            decisions=(scores >= THRESHOLD).astype(int),
            sensitive=profile.sensitive_frame(holdout),
            model=access,
            threshold=THRESHOLD,
            features=list(spec.features),
            pseudonym_key=b"test-key",
        )
    return out


@pytest.fixture(scope="module")
def explained(contexts):
    return {vendor_id: global_importance(ctx) for vendor_id, ctx in contexts.items()}


def _rows(result, metric, **where):
    return [
        r
        for r in result.rows(metric)
        if all(getattr(r, k) == v for k, v in {"attribute": None, "feature": None, **where}.items())
    ]


def test_vendor_a_relies_on_sex_and_nationality_beyond_the_policy_limit(explained) -> None:
    result = explained["vendor-a"]
    (sex,) = _rows(result, "sensitive_share", feature="sex")
    assert sex.ci_low > 0.05  # overall, sex alone takes more than the kr pack's 5% limit
    (nat,) = _rows(result, "sensitive_share", feature="nationality", attribute="nationality",
                   group="foreign_resident")  # fmt: skip
    assert nat.ci_low > 0.05  # for foreign residents nationality drives the score
    (total,) = _rows(result, "sensitive_share")
    assert total.ci_low > 0.15
    assert "sex" in result.details["ranking"][:3]


def test_vendor_b_relies_on_the_proxies_the_bias_check_flags(explained) -> None:
    result = explained["vendor-b"]
    assert all(r.value == 0.0 for r in result.rows("sensitive_share"))
    proxies = {p["feature"]: p for p in result.details["proxies"]}
    assert proxies["application_language"]["attribute"] == "nationality"
    assert proxies["application_language"]["proxy_auc"] >= 0.6
    (share,) = _rows(result, "proxy_share", attribute="nationality", group="foreign_resident")
    assert share.ci_low > 0.05
    (language,) = _rows(result, "proxy_share", feature="application_language")
    assert language.value == pytest.approx(proxies["application_language"]["importance_share"])
    assert any("application_language → nationality" in m for m in result.messages)


def test_vendor_c_has_no_sensitive_reliance(explained) -> None:
    result = explained["vendor-c"]
    assert all(r.value == 0.0 for r in result.rows("sensitive_share"))
    assert all(r.value < 0.01 for r in result.rows("proxy_share"))


@pytest.mark.parametrize("vendor_id", list(SPEC))
def test_explanations_are_exact_stable_and_complete(explained, vendor_id) -> None:
    result = explained[vendor_id]
    assert _rows(result, "additivity_error")[0].value < 1e-6
    assert _rows(result, "ranking_stability")[0].value > 0.8
    shares = [r for r in result.rows("importance_share") if r.attribute is None]
    assert {r.feature for r in shares} == set(SPEC[vendor_id].features)
    assert sum(r.value for r in shares) == pytest.approx(1.0)
    for r in shares:
        assert r.ci_low <= r.value <= r.ci_high
    # Within each group the shares add up to one too, and the group ranking is compared.
    by_group: dict[tuple[str, str], float] = {}
    for r in result.rows("importance_share"):
        if r.attribute is not None:
            by_group[(r.attribute, r.group)] = by_group.get((r.attribute, r.group), 0.0) + r.value
    assert len(by_group) == 11 and all(v == pytest.approx(1.0) for v in by_group.values())
    assert len(result.rows("group_rank_correlation")) == 11
    assert result.details["sample"]["tolerance_met"]
    top = result.details["ranking"][0]
    assert len(result.details["dependence"][top]) >= 2


def test_group_rankings_differ_where_a_proxy_matters(explained) -> None:
    b, c = explained["vendor-b"], explained["vendor-c"]
    (b_corr,) = [r for r in b.rows("group_rank_correlation") if r.group == "foreign_resident"]
    (c_corr,) = [r for r in c.rows("group_rank_correlation") if r.group == "foreign_resident"]
    assert b_corr.value < c_corr.value


def test_sample_grows_until_the_tolerance_or_the_budget(contexts) -> None:
    ctx = contexts["vendor-c"]
    loose = global_importance(dataclasses.replace(ctx, settings=CheckSettings(explain_tolerance=0.2)))
    assert len(loose.details["sample"]["rounds"]) == 1
    tight = global_importance(
        dataclasses.replace(
            ctx,
            # no time budget to speak of: the row budget must be what stops it, however loaded the machine
            settings=CheckSettings(
                explain_tolerance=0.0005, explain_row_budget=9000, n_boot=200, explain_seconds=1e9
            ),
        )
    )
    rounds = [r["rows"] for r in tight.details["sample"]["rounds"]]
    assert len(rounds) >= 2 and rounds == sorted(rounds) and rounds[-1] >= 9000
    halfwidths = [r["halfwidth"] for r in tight.details["sample"]["rounds"]]
    assert halfwidths[-1] < halfwidths[0]
    assert not tight.details["sample"]["tolerance_met"] and tight.details["sample"]["stopped_by"] == "rows"
    assert any("row budget ran out" in m for m in tight.messages)
    # A time budget no round can meet stops the draw after its first round, and the record says so.
    hurried = global_importance(
        dataclasses.replace(ctx, settings=CheckSettings(explain_tolerance=0.0005, explain_seconds=1e-9))
    )
    sample = hurried.details["sample"]
    assert (len(sample["rounds"]), sample["stopped_by"], sample["time_budget_seconds"]) == (1, "time", 1e-9)
    assert any("the time budget of 1e-09 s ran out" in m for m in hurried.messages)


def test_individual_reasons_add_up_and_read_as_sentences(contexts, holdout) -> None:
    wanted = str(holdout["case_id"].iloc[123])
    info = {
        "income_decile": FeatureInfo(
            label=Text(ko="소득 분위", en="income decile"), value=Text(ko="{value}분위", en="{value}")
        )
    }
    ctx = dataclasses.replace(contexts["vendor-a"], explain_ids=(wanted,), feature_info=info)
    result = individual_reasons(ctx)
    examples = result.details["examples"]
    assert len(examples) == 11 and [e["requested"] for e in examples].count(True) == 1
    assert {e["decision"] for e in examples if not e["requested"]} == {0, 1}
    base = result.details["base_score"]
    for e in examples:
        assert len(e["reasons"]) == 3
        contributions = [abs(r["contribution"]) for r in e["reasons"]]
        assert contributions == sorted(contributions, reverse=True)
        for r in e["reasons"]:
            assert (r["contribution"] > 0) == (r["direction"] == "raises")
    assert result.rows("additivity_error")[0].value < 1e-6
    requested = next(e for e in examples if e["requested"])
    assert requested["pseudonym"] == pseudonym(b"test-key", wanted)
    assert requested["score"] == pytest.approx(ctx.scores[123])
    assert 0.0 < base < 1.0
    text = json.dumps(result.model_dump(mode="json"), ensure_ascii=False)
    assert wanted not in text  # only the keyed pseudonym is kept
    decile = [r for e in examples for r in e["reasons"] if r["feature"] == "income_decile"]
    assert decile and all("분위 → 위험 점수 " in r["sentence"]["ko"] for r in decile)


def test_reason_sentence_reads_like_the_issue_example() -> None:
    info = FeatureInfo(
        label=Text(ko="소득 분위", en="income decile"), value=Text(ko="{value}분위", en="{value}")
    )
    said = sentences(info, 2, 0.0812, Text(ko="위험 점수", en="risk score"))
    assert said.ko == "소득 분위 2분위 → 위험 점수 +0.08"
    assert said.en == "income decile 2 → risk score +0.08"
    sex = FeatureInfo(label=Text(ko="성별", en="sex"), values={"male": Text(ko="남성", en="male")})
    assert sentences(sex, "male", -0.004, Text(ko="점수", en="score")).ko == "성별 남성 → 점수 -0.004"


def test_pseudonyms_depend_on_the_key() -> None:
    assert pseudonym(b"k1", "WR-1") == pseudonym(b"k1", "WR-1") != pseudonym(b"k2", "WR-1")
    assert "WR-1" not in pseudonym(b"k1", "WR-1")


def test_surrogate_explains_a_predictions_only_candidate_with_its_fidelity(contexts) -> None:
    ctx = dataclasses.replace(contexts["vendor-a"], model=None)
    result = surrogate(ctx)
    assert result.status == "passed"
    assert "SURROGATE" in result.messages[0]
    assert result.rows("surrogate_r2")[0].value > 0.9
    assert result.rows("surrogate_agreement")[0].value > 0.9
    (sex,) = _rows(result, "sensitive_share", feature="sex")
    assert sex.value > 0.05  # the vendor's reliance on sex shows through the surrogate
    assert result.details["surrogate"]["features"] == SPEC["vendor-a"].features
    decisions_only = surrogate(dataclasses.replace(ctx, scores=None))
    assert decisions_only.rows("surrogate_r2")[0].value is None
    assert decisions_only.rows("surrogate_agreement")[0].value > 0.85


def test_surrogate_is_not_assessed_when_it_is_not_needed_or_not_possible(contexts) -> None:
    assert surrogate(contexts["vendor-c"]).status == "not_assessed"  # the real model is explained
    blind = dataclasses.replace(contexts["vendor-c"], model=None, features=[])
    result = surrogate(blind)
    assert result.status == "not_assessed" and "declares no input features" in result.messages[0]


def test_predictions_only_gives_no_direct_explanation(contexts) -> None:
    from assay.checks.registry import get_check, run_check

    result = run_check(
        get_check("explain.global_importance"), dataclasses.replace(contexts["vendor-c"], model=None)
    )
    assert result.status == "not_assessed" and "model_access" in result.messages[0]


def test_contributions_reproduce_the_audited_scores(contexts) -> None:
    ctx = contexts["vendor-b"]
    result = individual_reasons(ctx)
    for e in result.details["examples"]:
        assert 0.0 <= e["score"] <= 1.0
    scores = np.array([e["score"] for e in result.details["examples"]])
    assert np.all(np.isin(np.round(scores, 12), np.round(ctx.scores, 12)))
