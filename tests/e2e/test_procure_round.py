"""`assay procure` end to end: four vendors in four formats and three faulty endpoints, one round.

vendor-a is the demo's skops file, vendor-b its pipeline converted to ONNX, vendor-c its scores
handed over as a predictions file, and vendor-d vendor-c's model behind a real HTTP endpoint. Three
more endpoints on the same local server time out, answer HTTP 500 or answer broken JSON: each must
end as that candidate's intake failure while the round goes on for the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from loopback import serving
from onnx_convert import pipeline_to_onnx
from quick_pack import QUICK_PACK
from threadpoolctl import threadpool_limits

from assay.models.candidate import EstimatorModel, load_skops

pytestmark = pytest.mark.e2e

ROWS = 20_000
SEED = 7
FORMATS = {"vendor-a": "skops", "vendor-b": "onnx", "vendor-c": "predictions", "vendor-d": "endpoint"}
SLOW_SECONDS = 3.0
# Candidate id → (path on the test server, endpoint settings, what its intake error must say).
FAULTY: dict[str, tuple[str, dict[str, Any], str]] = {
    "vendor-slow": (
        "/slow",
        {"timeout_s": 0.5, "retries": 1, "backoff_s": 0},
        "batch 0 failed after 2 attempts (last: timed out after 0.5 s)",
    ),
    "vendor-down": (
        "/down",
        {"retries": 1, "backoff_s": 0},
        "batch 0 failed after 2 attempts (last: HTTP 500)",
    ),
    "vendor-garbled": ("/garbled", {"retries": 1}, "batch 0 response is not JSON (JSONDecodeError: "),
}
GOOD = list(FORMATS)
EVERYONE = [*GOOD, *FAULTY]


@dataclass
class Received:
    """The SHA-256 of every request body the server got, by path."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    hashes: dict[str, list[str]] = field(default_factory=dict)

    def add(self, path: str, body: bytes) -> None:
        with self.lock:
            self.hashes.setdefault(path, []).append(hashlib.sha256(body).hexdigest())

    def of(self, path: str) -> list[str]:
        with self.lock:
            return list(self.hashes.get(path, []))


class Scorer(BaseHTTPRequestHandler):
    """vendor-d's service: vendor-c's model behind the endpoint protocol. Other paths misbehave."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    received: Received
    model: EstimatorModel
    dtypes: dict[str, Any]  # the model's input features and the dtypes it was trained on

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep pytest output clean

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        path = self.path.split("?")[0]
        self.received.add(path, body)
        # The client hangs up on purpose after a timeout.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            if path == "/score":
                self._send(200, json.dumps({"scores": self._scores(body)}).encode())
            elif path == "/slow":
                time.sleep(SLOW_SECONDS)
                self._send(200, b'{"scores": []}')
            elif path == "/down":
                self._send(500, b'{"error": "internal server error"}')
            elif path == "/garbled":
                self._send(200, b'{"scores": [0.12, 0.3')
            else:
                self._send(404, b'{"error": "no such path"}')

    def _scores(self, body: bytes) -> list[float]:
        rows = json.loads(body)["rows"]
        frame = pd.DataFrame(rows, columns=list(self.dtypes)).astype(self.dtypes)
        # One OpenMP thread: the audits in the CLI's process hold the cores already.
        with threadpool_limits(1):
            probs = self.model.native().predict_proba(frame)
        return probs[:, self.model.positive_column].tolist()

    def _send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@dataclass
class Server:
    """The running test server: its base url and what it received."""

    base: str
    received: Received

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _manifest(folder: Path) -> dict[str, Any]:
    return yaml.safe_load((folder / "candidate.yaml").read_text())


def _load(folder: Path) -> EstimatorModel:
    """Load a shipped vendor's skops model with the types Assay trusts."""
    manifest = _manifest(folder)
    return load_skops(
        folder / "model.skops", manifest["input_features"], manifest["output"]["positive_class"]
    )


@pytest.fixture(scope="module")
def server(scenario: Path, holdout: pd.DataFrame) -> Iterator[Server]:
    """Start the vendors' server on a free loopback port; stop it after the module."""
    model = _load(scenario / "candidates" / "vendor-c")
    dtypes = holdout[model.features].dtypes.to_dict()
    received = Received()
    handler = type("VendorD", (Scorer,), {"received": received, "model": model, "dtypes": dtypes})
    with serving(handler, poll_interval=0.05) as base:
        yield Server(base, received)


def _write_candidate(folder: Path, manifest: dict[str, Any]) -> str:
    folder.mkdir(exist_ok=True)
    (folder / "candidate.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
    return f"{folder.name}/candidate.yaml"


def write_candidates(root: Path, shipped: Path, sample: pd.DataFrame, server: Server) -> list[str]:
    """Write the seven candidates under `root`; return their paths relative to it, in round order."""
    shutil.copytree(shipped / "vendor-a", root / "vendor-a")
    paths = ["vendor-a/candidate.yaml"]

    b = _manifest(shipped / "vendor-b")
    onnx_model = pipeline_to_onnx(_load(shipped / "vendor-b").native(), sample[b["input_features"]])
    (root / "vendor-b").mkdir()
    (root / "vendor-b" / "model.onnx").write_bytes(onnx_model.SerializeToString())
    paths.append(_write_candidate(root / "vendor-b", {**b, "format": "onnx", "location": "model.onnx"}))

    c = _manifest(shipped / "vendor-c")
    scores = _load(shipped / "vendor-c").predict_scores(sample)
    preds = pd.DataFrame({"case_id": sample["case_id"], "score": scores})
    (root / "vendor-c").mkdir()
    # In another order than the evaluation rows: the file is joined on the id.
    preds.sample(frac=1.0, random_state=SEED).to_csv(root / "vendor-c" / "predictions.csv", index=False)
    predictions = {"id_column": "case_id", "score_column": "score"}
    manifest = {**c, "format": "predictions", "location": "predictions.csv", "predictions": predictions}
    paths.append(_write_candidate(root / "vendor-c", manifest))

    hosted = {k: v for k, v in c.items() if k != "location"}
    endpoint = {"url": server.url("/score"), "batch_size": 2000, "timeout_s": 60, "max_requests": 5000}
    d = {**hosted, "id": "vendor-d", "vendor": "Dasan Cloud", "format": "endpoint", "endpoint": endpoint}
    paths.append(_write_candidate(root / "vendor-d", d))
    for name, (path, settings, _) in FAULTY.items():
        faulty = {**d, "id": name, "vendor": f"{name} Ltd", "endpoint": {"url": server.url(path), **settings}}
        paths.append(_write_candidate(root / name, faulty))
    return paths


@dataclass
class Round:
    """One `assay procure` run and what it sealed."""

    proc: subprocess.CompletedProcess[str]
    ledger: Path
    summary: dict[str, Any]
    comparison: dict[str, Any]
    report: str
    records: dict[str, dict[str, Any]]  # candidate → its audit's record.json
    entries: dict[str, Path]  # candidate → its audit's ledger entry


@pytest.fixture(scope="module")
def procured(run_assay, scenario: Path, holdout: pd.DataFrame, server: Server, tmp_path_factory) -> Round:
    """Write the round (a seeded 20,000-row sample, a lighter local pack) and run it once."""
    root = tmp_path_factory.mktemp("procure")
    sample = holdout.sample(n=ROWS, random_state=SEED).reset_index(drop=True)
    sample.to_parquet(root / "holdout.parquet")
    (root / "local-pack.yaml").write_text(QUICK_PACK)
    body = {
        "id": "four-formats",
        "service": "welfare-review",
        "data": "holdout.parquet",
        "policy": "local-pack.yaml",
        "seed": SEED,
        "candidates": write_candidates(root, scenario / "candidates", sample, server),
    }
    (root / "round.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
    ledger = root / "ledger"
    proc = run_assay("procure", str(root / "round.yaml"), "--ledger", str(ledger))
    assert proc.returncode in (0, 1), proc.stderr
    summary = json.loads(proc.stdout)
    entry = Path(summary["entry"])
    records, entries = {}, {}
    for audit in summary["audits"]:
        if audit["entry"]:
            entries[audit["candidate"]] = Path(audit["entry"])
            records[audit["candidate"]] = json.loads((Path(audit["entry"]) / "record.json").read_text())
    return Round(
        proc=proc,
        ledger=ledger,
        summary=summary,
        comparison=json.loads((entry / "comparison.json").read_text()),
        report=(entry / "report.en.html").read_text(),  # the English one: the assertions quote it
        records=records,
        entries=entries,
    )


def _verdict(comparison: dict[str, Any], clause: str, candidate: str) -> str:
    (row,) = [row for row in comparison["clauses"] if row["clause_id"] == clause]
    return row["verdicts"][candidate]


def test_every_candidate_is_listed_with_its_outcome_and_the_exit_code_follows(procured: Round) -> None:
    comparison, summary = procured.comparison, procured.summary
    outcomes = {c["candidate"]: c for c in comparison["candidates"]}
    assert [c["candidate"] for c in comparison["candidates"]] == EVERYONE
    assert summary["candidates"] == comparison["candidates"]
    assert [a["candidate"] for a in summary["audits"]] == EVERYONE
    assert {c: o["format"] for c, o in outcomes.items() if c in GOOD} == FORMATS
    for name in GOOD:
        assert outcomes[name]["audit_id"] and outcomes[name]["recommendation"], outcomes[name]
        assert outcomes[name]["error"] is None
    # Selection rates far apart by nationality: both fail the non-discrimination gate, whatever
    # their format.
    for name in ("vendor-a", "vendor-b"):
        assert outcomes[name]["recommendation"] == "not_eligible"
        assert "KR-AGENCY-PARITY" in outcomes[name]["failing_clauses"]
    # vendor-c's model does not fail that gate in either guise, but on 20,000 rows the interval of
    # the foreign residents' selection-rate ratio still straddles 1.25 (the demo's 80,000 rows
    # decide it), so neither can be eligible yet.
    for name in ("vendor-c", "vendor-d"):
        assert _verdict(comparison, "KR-AGENCY-PARITY", name) == "inconclusive"
        assert outcomes[name]["recommendation"] in ("inconclusive", "not_eligible")
    # A predictions file gives no model to explain: the explanation-plan gate cannot be decided.
    # The endpoint can be explained through its scores, so the gate is decided for it.
    assert _verdict(comparison, "KR-AIBA-34.1.2", "vendor-c") == "not_assessed"
    assert _verdict(comparison, "KR-AIBA-34.1.2", "vendor-d") != "not_assessed"
    assert outcomes["vendor-c"]["recommendation"] == "inconclusive"
    ok = ("eligible", "eligible_with_conditions")
    eligible = [c["candidate"] for c in comparison["candidates"] if c["recommendation"] in ok]
    assert eligible == summary["eligible"] == []
    assert procured.proc.returncode == 1  # no candidate is eligible
    assert comparison["policy"]["id"] == "kr-public-service-quick" and comparison["seed"] == SEED
    # Every audited candidate is judged on every clause; the failed intakes on none.
    assert comparison["clauses"] and all(set(row["verdicts"]) == set(GOOD) for row in comparison["clauses"])


def _result(record: dict[str, Any], check_id: str) -> dict[str, Any]:
    (result,) = [r for r in record["results"] if r["check_id"] == check_id]
    return result


def test_one_model_as_predictions_or_endpoint_gives_the_same_measurements(procured: Round) -> None:
    c, d = procured.records["vendor-c"], procured.records["vendor-d"]
    for check_id in ("fairness.group_metrics", "performance.classification"):
        assert _result(c, check_id)["metrics"] == _result(d, check_id)["metrics"], check_id
    # Only the model-access checks tell the formats apart: a file of scores cannot be explained.
    assert _result(c, "explain.global_importance")["status"] == "not_assessed"
    assert _result(c, "explain.surrogate")["status"] == "passed"
    for name, explainer in (
        ("vendor-a", "shap.TreeExplainer"),
        ("vendor-b", "permutation SHAP"),
        ("vendor-d", "permutation SHAP"),
    ):
        result = _result(procured.records[name], "explain.global_importance")
        assert result["status"] == "passed" and result["details"]["explainer"]["name"] == explainer, name


def test_faulty_endpoints_fail_their_own_intake_in_one_line_naming_the_url(
    procured: Round, server: Server
) -> None:
    outcomes = {c["candidate"]: c for c in procured.comparison["candidates"]}
    for name, (path, settings, reason) in FAULTY.items():
        outcome = outcomes[name]
        assert outcome["audit_id"] is None and outcome["recommendation"] is None, outcome
        assert outcome["vendor"] == f"{name} Ltd" and outcome["format"] == "endpoint"
        error = outcome["error"]
        assert "\n" not in error and error.startswith(f"{server.url(path)}: "), error
        assert reason in error, error
        # Asked as often as its manifest allows, then given up on; a malformed answer is not retried.
        attempts = 1 if name == "vendor-garbled" else settings["retries"] + 1
        assert len(server.received.of(path)) == attempts
    # No failed intake leaves an audit in the ledger: four audits and the comparison.
    assert set(procured.entries) == set(GOOD)
    assert len(list((procured.ledger / "entries").iterdir())) == len(GOOD) + 1


def test_comparison_report_names_every_candidate_with_gates_and_odds(procured: Round, server: Server) -> None:
    report = procured.report
    for name in EVERYONE:
        assert f"<code>{name}</code>" in report
    for path, _, _ in FAULTY.values():
        assert server.url(path) in report
    assert report.count("intake failed") == len(FAULTY)
    assert "<h2>Gates</h2>" in report
    gates = [row["clause_id"] for row in procured.comparison["clauses"] if row["severity"] == "gate"]
    assert gates and all(f"<code>{g}</code>" in report for g in gates)
    sentences = re.findall(
        r"<li>(\S+ has a (?:smaller|larger) [^<]+ than \S+ with probability [01]\.\d\d)</li>", report
    )
    assert any(re.search(r"with probability (0\.9\d|1\.00)$", s) for s in sentences), sentences


def _pair(ranking: dict[str, Any], one: str, other: str) -> dict[str, Any]:
    (pair,) = [p for p in ranking["pairwise"] if {p["better"], p["worse"]} == {one, other}]
    return pair


def test_same_model_ties_and_beats_vendor_a_on_equalized_odds(procured: Round) -> None:
    rankings = procured.comparison["rankings"]
    assert rankings == procured.summary["rankings"]
    (eod,) = [
        r for r in rankings if r["metric"] == "equalized_odds_difference" and r["attribute"] == "nationality"
    ]
    assert set(eod["order"]) == set(GOOD)
    # The predictions file and the endpoint are the same model: no replicate tells them apart.
    assert 0.3 <= _pair(eod, "vendor-c", "vendor-d")["probability"] <= 0.7
    for ranking in rankings:
        estimates = {e["candidate"]: e for e in ranking["estimates"]}
        same = [{k: v for k, v in estimates[n].items() if k != "candidate"} for n in ("vendor-c", "vendor-d")]
        assert same[0] == same[1], ranking["metric"]
    for name in ("vendor-c", "vendor-d"):
        pair = _pair(eod, name, "vendor-a")
        assert pair["better"] == name and pair["probability"] >= 0.95, pair


def test_endpoint_requests_are_logged_by_the_hashes_the_server_received(
    procured: Round, server: Server
) -> None:
    entry = procured.entries["vendor-d"]
    lines = [json.loads(line) for line in (entry / "intake.jsonl").read_text().splitlines()]
    assert lines and all(line["status"] == 200 for line in lines)
    assert sorted(line["request_sha256"] for line in lines) == sorted(server.received.of("/score"))
    intake = procured.records["vendor-d"]["intake"]
    assert intake["format"] == "endpoint" and intake["endpoint"]["url"] == server.url("/score")
    assert intake["determinism"]["deterministic"] is True
    assert intake["requests"]["requests"] == len(lines) and intake["requests"]["failures"] == 0
    # Only an endpoint's audit keeps a request log.
    others = [e for name, e in procured.entries.items() if name != "vendor-d"]
    assert not any((e / "intake.jsonl").exists() for e in others)


def test_predictions_vendor_record_says_how_the_file_joined(procured: Round) -> None:
    intake = procured.records["vendor-c"]["intake"]
    assert intake["format"] == "predictions"
    assert intake["coverage"] == {"evaluation_rows": ROWS, "predictions": ROWS, "joined": ROWS}
    assert {r["intake"]["format"] for r in procured.records.values()} == set(FORMATS.values())


def test_ledger_verifies_after_the_round(run_assay, procured: Round) -> None:
    proc = run_assay("verify", "--ledger", str(procured.ledger))
    assert proc.returncode == 0, proc.stderr
    assert f"{len(GOOD) + 1} entries" in proc.stderr


@pytest.fixture
def bad_round(scenario: Path, tmp_path: Path) -> dict[str, Any]:
    """Return a valid round body over the scenario's files, for a test to break one thing in."""
    shipped = scenario / "candidates"
    return {
        "id": "bad",
        "service": "welfare-review",
        "data": str(scenario / "holdout.parquet"),
        "seed": SEED,
        "candidates": [str(shipped / v / "candidate.yaml") for v in ("vendor-a", "vendor-c")],
    }


BAD_ROUNDS = {
    "unknown_key": "field 'budget': Extra inputs are not permitted",
    "missing_candidate": "field 'candidates': no such file ",
    "duplicate_candidate": "field 'candidates': ",
    "duplicate_id": "field 'candidates': ",
}


@pytest.mark.parametrize("case", list(BAD_ROUNDS))
def test_bad_round_file_is_exit_2_one_line_and_no_entry(
    run_assay, scenario, bad_round, tmp_path, case
) -> None:
    shipped = scenario / "candidates"
    if case == "unknown_key":
        bad_round["budget"] = 3
    elif case == "missing_candidate":
        bad_round["candidates"].append(str(tmp_path / "vendor-x" / "candidate.yaml"))
    elif case == "duplicate_id":  # another vendor's copy that kept vendor-c's id
        shutil.copytree(shipped / "vendor-c", tmp_path / "copy")
        bad_round["candidates"].append(str(tmp_path / "copy" / "candidate.yaml"))
    else:  # the same file by another spelling of its path
        bad_round["candidates"].append(str(shipped / "vendor-b" / ".." / "vendor-a" / "candidate.yaml"))
    (tmp_path / "round.yaml").write_text(yaml.safe_dump(bad_round))
    ledger = tmp_path / "ledger"
    proc = run_assay("procure", str(tmp_path / "round.yaml"), "--ledger", str(ledger))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"error: {tmp_path / 'round.yaml'}: {BAD_ROUNDS[case]}"), lines[0]
    if case == "missing_candidate":
        assert lines[0].endswith(str(tmp_path / "vendor-x" / "candidate.yaml"))
    if case == "duplicate_candidate":
        assert lines[0].endswith(f"{(shipped / 'vendor-a' / 'candidate.yaml').resolve()} is listed twice")
    if case == "duplicate_id":
        assert lines[0].endswith("both declare id 'vendor-c'")
    assert proc.stdout == ""
    assert not (ledger / "entries").exists() or not any((ledger / "entries").iterdir())
