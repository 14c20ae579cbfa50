"""Deterministic generator of the `welfare-review` scenario, with a documented, planted ground truth.

A city welfare office picks benefit recipients for an eligibility review; a model scores each
recipient's risk of an irregularity. What is planted (see data/README.md):
(a) foreign residents are under-represented against the service profile's population shares;
(b) historical labels (the training split) over-record irregularities for foreign residents, and
    for men while missing some for women;
(c) application language and province are proxies of nationality.
The true irregularity process depends on neither sex nor nationality (nor age or disability).
Each row also carries a caseworker's free-text note naming the applicant: personal data that is no
model input and that no record or report may ever hold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GENERATOR_VERSION = "3"

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

# The caseworker's note: synthetic names (Korean and romanised) and phrases, drawn from a stream of
# its own after everything else, so that adding it changed no other column's values. No syllable
# pair of a given name is a common word ending (하지, 하는), so names stand out of Korean prose.
NOTE_STREAM = 100
SURNAMES = [("김", "Kim"), ("이", "Lee"), ("박", "Park"), ("최", "Choi"), ("정", "Jung"), ("강", "Kang"),
            ("조", "Cho"), ("윤", "Yoon"), ("장", "Jang"), ("임", "Lim"), ("한", "Han"), ("오", "Oh"),
            ("서", "Seo"), ("신", "Shin"), ("권", "Kwon"), ("황", "Hwang"), ("안", "Ahn"), ("송", "Song"),
            ("류", "Ryu"), ("홍", "Hong")]  # fmt: skip
SYLLABLES = [("서", "seo"), ("민", "min"), ("지", "ji"), ("율", "yul"), ("윤", "yun"), ("준", "jun"),
             ("도", "do"), ("예", "ye"), ("현", "hyeon"), ("수", "su"), ("은", "eun"), ("진", "jin"),
             ("연", "yeon"), ("채", "chae"), ("주", "ju"), ("혜", "hye"), ("영", "yeong"), ("태", "tae"),
             ("규", "gyu"), ("빈", "bin")]  # fmt: skip
FOREIGN_FAMILY = [("응우옌", "Nguyen"), ("쩐", "Tran"), ("팜", "Pham"), ("왕", "Wang"), ("류", "Liu"),
                  ("천", "Chen"), ("자오", "Zhao"), ("산토스", "Santos"), ("바트", "Bat")]  # fmt: skip
FOREIGN_GIVEN = [("란", "Lan"), ("흐엉", "Huong"), ("웨이", "Wei"), ("팡", "Fang"), ("마리아", "Maria"),
                 ("토야", "Tuya"), ("안", "Anh"), ("린", "Linh"), ("쥔", "Jun")]  # fmt: skip
NOTE_PHRASES = [
    ("소득 신고 누락 여부 확인 필요", "check for unreported income"),
    ("야간 아르바이트 소득이 있다고 진술", "says they work evening shifts"),
    ("가구원 변동 신고가 늦음", "reported a household change late"),
    ("임대료 체납으로 상담", "came in about rent arrears"),
    ("병원 진료 기록 제출", "handed in medical records"),
    ("자녀 학교 문제로 방문", "visited about a child's school"),
    ("전화 연락이 되지 않음", "could not be reached by phone"),
    ("통장 거래 내역 제출 예정", "will hand in bank statements"),
    ("이웃의 제보가 있었음", "a neighbour made a report"),
    ("근로 능력 평가 예정", "work capacity assessment pending"),
    ("주소지와 실거주지가 다를 수 있음", "may not live at the registered address"),
    ("장기 입원 후 퇴원", "discharged after a long hospital stay"),
]


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


def _names(rng: np.random.Generator, nationality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return synthetic names in Hangul and romanised; foreign residents get foreign names."""
    n = len(nationality)
    surname, first, second = (
        rng.integers(0, len(options), n) for options in (SURNAMES, SYLLABLES, SYLLABLES)
    )
    family_name = [np.array(pair, dtype=object) for pair in zip(*SURNAMES, strict=True)]
    syllable = [np.array(pair, dtype=object) for pair in zip(*SYLLABLES, strict=True)]
    ko = family_name[0][surname] + syllable[0][first] + syllable[0][second]
    en = (
        family_name[1][surname]
        + " "
        + np.char.capitalize((syllable[1][first] + syllable[1][second]).astype(str))
    )
    en = en.astype(object)
    foreign = nationality == "foreign_resident"
    k = int(foreign.sum())
    family, given = rng.integers(0, len(FOREIGN_FAMILY), k), rng.integers(0, len(FOREIGN_GIVEN), k)
    fam = [np.array(pair, dtype=object) for pair in zip(*FOREIGN_FAMILY, strict=True)]
    giv = [np.array(pair, dtype=object) for pair in zip(*FOREIGN_GIVEN, strict=True)]
    ko[foreign] = fam[0][family] + " " + giv[0][given]
    en[foreign] = fam[1][family] + " " + giv[1][given]
    return ko, en


def caseworker_notes(seed: int, split: str, window: int, nationality: np.ndarray) -> list[str]:
    """Return one synthetic caseworker's note per row: date, applicant's name, a remark, a phone."""
    stream = [seed, NOTE_STREAM, ("train", "holdout", "window").index(split), window]
    rng = np.random.default_rng(stream)
    n = len(nationality)
    ko, en = _names(rng, np.asarray(nationality))
    days = np.datetime64("2025-01-01") + rng.integers(0, 540, n)
    phrase = rng.integers(0, len(NOTE_PHRASES), n)
    phone = rng.integers(0, 10**8, n)
    return [
        f"{day} {k}({e}) 상담: {NOTE_PHRASES[p][0]}. Note: {NOTE_PHRASES[p][1]}; "
        f"tel 010-{t // 10**4:04d}-{t % 10**4:04d}"
        for day, k, e, p, t in zip(days.astype(str), ko, en, phrase, phone, strict=True)
    ]


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
    df["caseworker_note"] = caseworker_notes(seed, split, window, df["nationality"].to_numpy())
    return df
