"""Deterministic generator of the `welfare-review` scenario, with a documented, planted ground truth.

A city welfare office picks benefit recipients for an eligibility review; a model scores each
recipient's risk of an irregularity. What is planted (see data/README.md):
(a) foreign residents are under-represented against the service profile's population shares;
(b) historical labels (the training split) over-record irregularities for foreign residents, and
    for men while missing some for women;
(c) application language and province are proxies of nationality.
The true irregularity process depends on neither sex nor nationality (nor age or disability).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GENERATOR_VERSION = "2"

NATIONALITY_SHARES = {"korean": 0.93, "naturalized": 0.03, "foreign_resident": 0.04}
# Probability that a historical review recorded an irregularity that was not there, by nationality.
HISTORICAL_OVER_RECORDING = {"korean": 0.0, "naturalized": 0.0, "foreign_resident": 0.25}
# By sex: men's reviews recorded irregularities that were not there, women's missed some that were.
# The two roughly cancel in the overall rate, so a model that ignores sex stays calibrated.
HISTORICAL_OVER_RECORDING_BY_SEX = {"female": 0.0, "male": 0.06}
HISTORICAL_MISSED_BY_SEX = {"female": 0.25, "male": 0.0}

PROVINCES = [
    "seoul", "busan", "daegu", "incheon", "gwangju", "daejeon", "ulsan", "sejong", "gyeonggi",
    "gangwon", "chungbuk", "chungnam", "jeonbuk", "jeonnam", "gyeongbuk", "gyeongnam", "jeju",
]  # fmt: skip
# Korean residents roughly follow the population; foreign residents cluster in industrial areas.
PROVINCE_WEIGHTS = {
    "korean": [18, 6.5, 4.6, 5.8, 2.8, 2.8, 2.1, 0.8, 26.5, 2.9, 3.1, 4.1, 3.4, 3.5, 5.0, 6.3, 1.3],
    "naturalized": [15, 4, 3, 7, 2, 2, 2, 0.5, 33, 2, 4, 7, 3, 3, 4, 7, 1.5],
    "foreign_resident": [10, 2, 2, 9, 1, 1, 2, 0.3, 42, 1, 6, 12, 1.5, 1.5, 3, 8, 1.7],
}
LANGUAGES = ["korean", "chinese", "vietnamese", "english", "other"]
LANGUAGE_WEIGHTS = {
    "korean": [99.5, 0.2, 0.1, 0.1, 0.1],
    "naturalized": [70, 12, 12, 3, 3],
    "foreign_resident": [20, 30, 25, 15, 10],
}
CHANNELS = ["online", "office", "mail"]


def _pick(rng: np.random.Generator, options: list[str], weights: list[float], n: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(np.asarray(options, dtype=object), size=n, p=p / p.sum())


def _by_nationality(
    rng: np.random.Generator,
    nationality: np.ndarray,
    options: list[str],
    weights: dict[str, list[float]],
) -> np.ndarray:
    out = np.empty(len(nationality), dtype=object)
    for nat, w in weights.items():
        mask = nationality == nat
        out[mask] = _pick(rng, options, w, int(mask.sum()))
    return out


def _channels(rng: np.random.Generator, age: np.ndarray, drift: float) -> np.ndarray:
    """Return the application channels; with drift, mail grows, above all among applicants 65+."""
    if not drift:
        return _pick(rng, CHANNELS, [50, 40, 10], len(age))
    older = age >= 65
    out = np.empty(len(age), dtype=object)
    out[older] = _pick(rng, CHANNELS, [50 - 30 * drift, 40 - 20 * drift, 10 + 50 * drift], int(older.sum()))
    out[~older] = _pick(rng, CHANNELS, [50 - 15 * drift, 40, 10 + 15 * drift], int((~older).sum()))
    return out


def _income_weights(drift: float) -> list[float]:
    """Return the income deciles' weights, tilted towards the poorest as drift grows."""
    base = np.array([18, 16, 14, 12, 10, 9, 7, 6, 5, 3], dtype=float)
    return list(base * np.linspace(1 + drift, 1 - 0.5 * drift, 10))


def true_irregularity_logit(df: pd.DataFrame) -> np.ndarray:
    """Return the log-odds of a real irregularity: a function of circumstances, never of identity."""
    return (
        -2.45
        + 0.22 * (df["income_decile"] - 3)
        + 0.08 * (df["months_employed_24"] - 6)
        + 1.4 * df["prior_irregularity"]
        + 0.2 * df["prior_reviews"]
        - 0.15 * df["children"]
        + 0.004 * df["months_on_benefits"]
        + 0.35 * (df["application_channel"] == "mail")
    ).to_numpy(dtype=float)


def generate(n: int, seed: int, split: str, window: int = 0, drift: float = 0.0) -> pd.DataFrame:
    """Return `n` recipients; `split` is `train` (historical labels), `holdout` (reviewed labels)
    or `window` (a later evaluation window `window` ≥ 1 in production, reviewed labels).

    The holdout's and windows' labels come from the city's randomised quality-control review, which
    looks at every selected case in full, so they record the true irregularity; the training split
    carries the historical labels of targeted reviews. A window with `drift` in (0, 1] has moved:
    poorer applicants and more mail applications, above all from applicants 65 and over (covariate
    shift), and irregularities that now also follow older applicants' mail applications and long
    benefit spells (concept shift), which a model trained before cannot know: it misses them among
    the older applicants most, so the drifted window is both less accurate and less fair by age.
    """
    if split not in ("train", "holdout", "window"):
        raise ValueError(f"split must be 'train', 'holdout' or 'window', not {split!r}")
    if (split == "window") != (window >= 1) or not 0.0 <= drift <= 1.0 or (drift and split != "window"):
        raise ValueError("a window needs window >= 1 and a drift in [0, 1]; other splits take neither")
    # The train and holdout streams are unchanged by windows, so earlier audits stay reproducible.
    stream = {"train": [seed, 0], "holdout": [seed, 1]}.get(split, [seed, 2, window])
    rng = np.random.default_rng(stream)
    nationality = _pick(rng, list(NATIONALITY_SHARES), list(NATIONALITY_SHARES.values()), n)
    household = np.clip(1 + rng.poisson(1.3, n), 1, 8)
    prior_reviews = np.clip(rng.poisson(0.8, n), 0, 8)
    age = np.clip(rng.normal(52, 16, n).round(), 19, 90).astype(int)
    df = pd.DataFrame(
        {
            "case_id": [f"WR-{split[0].upper()}{f'{window:03d}' if window else ''}{i:07d}" for i in range(n)],
            "age": age,
            "sex": _pick(rng, ["female", "male"], [55, 45], n),
            "nationality": nationality,
            "disability": _pick(rng, ["no", "yes"], [92, 8], n),
            "province": _by_nationality(rng, nationality, PROVINCES, PROVINCE_WEIGHTS),
            "household_size": household,
            "children": rng.binomial(household - 1, 0.5),
            "income_decile": _pick(rng, [str(d) for d in range(1, 11)], _income_weights(drift), n).astype(
                int
            ),
            "months_employed_24": rng.binomial(24, rng.beta(1.5, 2.5, n)),
            "months_on_benefits": np.clip(rng.gamma(2.0, 18.0, n).round(), 0, 240).astype(int),
            "prior_reviews": prior_reviews,
            "prior_irregularity": ((prior_reviews > 0) & (rng.random(n) < 0.3)).astype(int),
            "application_channel": _channels(rng, age, drift),
            "application_language": _by_nationality(rng, nationality, LANGUAGES, LANGUAGE_WEIGHTS),
        }
    )
    logit = true_irregularity_logit(df)
    if drift:
        older_by_mail = ((df["application_channel"] == "mail") & (df["age"] >= 65)).to_numpy()
        long_spell = (df["months_on_benefits"] > 60).to_numpy()
        logit = logit + drift * (3.0 * older_by_mail + 1.0 * long_spell)
    p_true = 1.0 / (1.0 + np.exp(-logit))
    truth = rng.random(n) < p_true
    if split == "train":
        over = df["nationality"].map(HISTORICAL_OVER_RECORDING).to_numpy(dtype=float)
        truth = truth | (rng.random(n) < over)
        over_sex = df["sex"].map(HISTORICAL_OVER_RECORDING_BY_SEX).to_numpy(dtype=float)
        missed = df["sex"].map(HISTORICAL_MISSED_BY_SEX).to_numpy(dtype=float)
        truth = (truth | (rng.random(n) < over_sex)) & ~(rng.random(n) < missed)
    df["irregularity_found"] = truth.astype(int)
    for col in ("sex", "nationality", "disability", "province", "application_channel"):
        df[col] = df[col].astype(str)
    df["application_language"] = df["application_language"].astype(str)
    return df
