"""`assay audit` of an endpoint candidate: its credentials reach the vendor and never the ledger."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from loopback import send_json, serving
from threadpoolctl import threadpool_limits

from assay.models.candidate import EstimatorModel, load_skops

pytestmark = pytest.mark.e2e

TOKEN = "tok-5d1e-from-the-environment"
KEY = "key-77ab-written-in-the-manifest"


def vendor(model: EstimatorModel, dtypes: dict[str, Any], seen: set[tuple[str, str]]) -> type:
    """Return a handler scoring rows with `model` that notes the credentials each request carried."""

    class Vendor(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            seen.add((self.headers["Authorization"], self.headers["X-Api-Key"]))
            rows = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["rows"]
            frame = pd.DataFrame(rows, columns=list(dtypes)).astype(dtypes)
            with threadpool_limits(1):
                scores = model.native().predict_proba(frame)[:, model.positive_column].tolist()
            body = json.dumps({"scores": scores}).encode()
            send_json(self, body)

    return Vendor


def test_header_credentials_reach_the_vendor_and_are_not_sealed(
    run_assay, scenario: Path, holdout: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = scenario / "candidates" / "vendor-c"
    manifest = yaml.safe_load((shipped / "candidate.yaml").read_text())
    features = manifest["input_features"]
    model = load_skops(shipped / "model.skops", features, manifest["output"]["positive_class"])
    data = tmp_path / "eval.csv"
    holdout.head(1000).to_csv(data, index=False)
    seen: set[tuple[str, str]] = set()
    monkeypatch.setenv("VENDOR_TOKEN", TOKEN)  # run_assay passes this process's environment on
    with serving(vendor(model, holdout[features].dtypes.to_dict(), seen)) as base:
        del manifest["location"]
        manifest.update(
            format="endpoint",
            endpoint={
                "url": f"{base}/score?model=v2",
                "batch_size": 500,
                "headers": {"Authorization": "Bearer ${VENDOR_TOKEN}", "X-Api-Key": KEY},
            },
        )
        candidate = tmp_path / "candidate.yaml"
        candidate.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
        ledger = tmp_path / "ledger"
        proc = run_assay(
            "audit", "--service", "welfare-review", "--candidate", str(candidate),
            "--data", str(data), "--ledger", str(ledger),
        )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    assert seen == {(f"Bearer {TOKEN}", KEY)}
    entry = Path(json.loads(proc.stdout)["entry"])
    record = json.loads((entry / "record.json").read_text())
    assert record["candidate"]["endpoint"]["url"] == f"{base}/score?model=v2"
    assert "headers" not in record["candidate"]["endpoint"]
    assert (entry / "intake.jsonl").is_file()
    for path in ledger.rglob("*"):
        if path.is_file():
            sealed = path.read_bytes()
            for secret in (TOKEN, KEY, "VENDOR_TOKEN", "X-Api-Key"):
                assert secret.encode() not in sealed, f"{secret} in {path.relative_to(ledger)}"
