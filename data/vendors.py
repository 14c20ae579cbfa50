"""The demo's three vendor candidates, trained deterministically on the historical split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

LEGITIMATE = [
    "household_size",
    "children",
    "income_decile",
    "months_employed_24",
    "months_on_benefits",
    "prior_reviews",
    "prior_irregularity",
    "application_channel",
]


@dataclass(frozen=True)
class VendorSpec:
    """How one demo vendor builds its model."""

    id: str
    vendor: str
    features: list[str]
    note: str


VENDORS = [
    VendorSpec(
        "vendor-a",
        "Hanbit Analytics",
        [*LEGITIMATE, "sex", "nationality", "age"],
        "uses sex, nationality and age as inputs",
    ),
    VendorSpec(
        "vendor-b",
        "Saeron AI",
        [*LEGITIMATE, "application_language", "province"],
        "drops sex and nationality but keeps application language and province",
    ),
    VendorSpec(
        "vendor-c",
        "Gongjeong Systems",
        list(LEGITIMATE),
        "uses circumstances of the case only",
    ),
]
THRESHOLD = 0.3


def train_model(train: pd.DataFrame, features: list[str], label: str, seed: int) -> object:
    """Fit a gradient-boosted pipeline on `features` (categorical inputs ordinal-encoded)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    x = train[features]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(x[c])]
    encode = ColumnTransformer(
        [
            (
                "categorical",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                categorical,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    model = Pipeline(
        [
            ("encode", encode),
            (
                "boost",
                HistGradientBoostingClassifier(
                    max_iter=150,
                    learning_rate=0.08,
                    max_leaf_nodes=15,
                    early_stopping=False,
                    random_state=seed,
                ),
            ),
        ]
    )
    return model.fit(x, train[label])


def write_candidates(train: pd.DataFrame, out_dir: Path, seed: int) -> list[Path]:
    """Train every demo vendor and write `<id>/model.skops` and `<id>/candidate.yaml`."""
    import skops.io as sio

    paths = []
    for spec in VENDORS:
        folder = out_dir / spec.id
        folder.mkdir(parents=True, exist_ok=True)
        model = train_model(train, spec.features, "irregularity_found", seed)
        sio.dump(model, folder / "model.skops")
        manifest = {
            "id": spec.id,
            "vendor": spec.vendor,
            "model": f"{spec.vendor} welfare review scorer",
            "version": "1.0.0",
            "format": "skops",
            "location": "model.skops",
            "input_features": spec.features,
            "output": {
                "positive_class": 1,
                "score": "probability that a review finds an irregularity",
                "threshold": THRESHOLD,
            },
            "intended_use": "rank benefit recipients for an eligibility review by a caseworker",
            "training_data": (
                f"{len(train)} historical review outcomes of the city welfare office; model {spec.note}"
            ),
            "contact": f"compliance@{spec.id}.example",
        }
        path = folder / "candidate.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
        paths.append(path)
    return paths
