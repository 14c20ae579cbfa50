"""The scenario's planted ground truth, pinned so the generator cannot drift unnoticed."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import normalized_mutual_info_score

from assay.data import welfare_review


def test_generator_is_deterministic() -> None:
    a = welfare_review.generate(2000, seed=3, split="train")
    b = welfare_review.generate(2000, seed=3, split="train")
    c = welfare_review.generate(2000, seed=4, split="train")
    digest = lambda df: hashlib.sha256(pd.util.hash_pandas_object(df).to_numpy()).hexdigest()  # noqa: E731
    assert digest(a) == digest(b) != digest(c)


# Digests of generator version 2's train and holdout streams, before the caseworker's note existed.
STREAMS = {
    "train": "159602ead0b00eeadec75bce13107088c32c05395316f0c4f384afaf84b1a5a7",
    "holdout": "ef769168ae43d18aa8b1193d80a5adf3fbf8a88e703b92382b52804f892bc965",
}


@pytest.mark.parametrize("split", sorted(STREAMS))
def test_the_note_comes_from_a_stream_of_its_own(split: str) -> None:
    """Adding the free-text note changed no other column, so the demo's models and numbers stand."""
    df = welfare_review.generate(2000, seed=7, split=split)
    assert df.columns[-1] == "caseworker_note"
    others = df.drop(columns="caseworker_note")
    assert hashlib.sha256(pd.util.hash_pandas_object(others).to_numpy()).hexdigest() == STREAMS[split]
    notes = df["caseworker_note"]
    assert notes.nunique() == len(df)  # a date, a name and a phone number make every note unique
    assert notes.str.fullmatch(r"\d{4}-\d{2}-\d{2} .+\(.+\) 상담: .+\. Note: .+; tel 010-\d{4}-\d{4}").all()
    foreign = df["nationality"] == "foreign_resident"
    assert notes[foreign].str.contains(r"\((?:Nguyen|Tran|Pham|Wang|Liu|Chen|Zhao|Santos|Bat) ").all()


def test_foreign_residents_are_under_represented(holdout, profile) -> None:
    reference = profile.attribute("nationality").population_shares
    shares = holdout["nationality"].value_counts(normalize=True)
    assert shares["foreign_resident"] / reference["foreign_resident"] < 0.65
    assert abs(shares["naturalized"] / reference["naturalized"] - 1) < 0.15


def test_historical_labels_over_record_foreign_residents(train, holdout) -> None:
    hist = train.groupby("nationality")["irregularity_found"].mean()
    reviewed = holdout.groupby("nationality")["irregularity_found"].mean()
    assert hist["foreign_resident"] - hist["korean"] > 0.12  # planted: +25% of true negatives
    assert abs(hist["naturalized"] - hist["korean"]) < 0.03
    assert abs(reviewed["foreign_resident"] - reviewed["korean"]) < 0.03  # reviewed labels: truth


def test_historical_labels_over_record_men_and_miss_women(train, holdout) -> None:
    hist = train.groupby("sex")["irregularity_found"].mean()
    reviewed = holdout.groupby("sex")["irregularity_found"].mean()
    assert hist["male"] - hist["female"] > 0.08
    assert abs(reviewed["male"] - reviewed["female"]) < 0.02
    # The two distortions cancel overall, so a model that ignores sex stays calibrated.
    assert abs(train["irregularity_found"].mean() - holdout["irregularity_found"].mean()) < 0.01


def test_language_and_province_are_proxies_of_nationality(holdout) -> None:
    nat = holdout["nationality"]
    language_nmi = normalized_mutual_info_score(nat, holdout["application_language"])
    province_nmi = normalized_mutual_info_score(nat, holdout["province"])
    independent = normalized_mutual_info_score(nat, holdout["application_channel"])
    assert language_nmi > 0.3
    assert province_nmi > 0.005
    assert independent < 0.001
    non_korean = holdout["application_language"] != "korean"
    assert non_korean[nat == "foreign_resident"].mean() > 0.7
    assert non_korean[nat == "korean"].mean() < 0.01


def test_true_process_depends_on_neither_sex_nor_nationality(holdout) -> None:
    swapped = holdout.copy()
    swapped["nationality"] = np.where(swapped["nationality"] == "korean", "foreign_resident", "korean")
    swapped["sex"] = np.where(swapped["sex"] == "male", "female", "male")
    assert np.array_equal(
        welfare_review.true_irregularity_logit(holdout),
        welfare_review.true_irregularity_logit(swapped),
    )


def test_later_windows_stay_put_without_drift_and_move_with_it() -> None:
    """A production window is a fresh sample; with drift its inputs and its truth have moved."""
    from assay.checks.drift import feature_drift

    holdout = welfare_review.generate(20_000, 7, "holdout")
    calm = welfare_review.generate(20_000, 7, "window", window=1)
    moved = welfare_review.generate(20_000, 7, "window", window=2, drift=1.0)
    assert calm["case_id"].iloc[0] == "WR-W0010000000" and moved["case_id"].iloc[0] == "WR-W0020000000"
    features = [c for c in holdout.columns if c not in ("case_id", "irregularity_found", "caseworker_note")]
    assert max(feature_drift(c, holdout[c], calm[c]).psi for c in features) < 0.01
    assert abs(calm["irregularity_found"].mean() - holdout["irregularity_found"].mean()) < 0.015
    assert (
        feature_drift("application_channel", holdout["application_channel"], moved["application_channel"]).psi
        > 0.25
    )
    assert feature_drift("income_decile", holdout["income_decile"], moved["income_decile"]).psi > 0.05
    assert moved["irregularity_found"].mean() > holdout["irregularity_found"].mean() + 0.05
    # The shift lands on older applicants' mail applications: more of them, and more irregular.
    for frame, mail_share, rate in ((calm, (0.05, 0.15), (0.2, 0.45)), (moved, (0.5, 0.7), (0.7, 0.95))):
        older = frame[frame["age"] >= 65]
        by_mail = older["application_channel"] == "mail"
        assert mail_share[0] < by_mail.mean() < mail_share[1]
        assert rate[0] < older.loc[by_mail, "irregularity_found"].mean() < rate[1]
    pd.testing.assert_frame_equal(moved, welfare_review.generate(20_000, 7, "window", window=2, drift=1.0))
    with pytest.raises(ValueError):
        welfare_review.generate(10, 7, "holdout", drift=0.5)
