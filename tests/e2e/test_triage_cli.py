"""`assay triage`: the table on stderr, the JSON on stdout or --output, one-line errors with exit 2.

The command runs through `assay.flows.cli.main` with sys.argv set, as the installed script does,
in this process (an interpreter start per case would cost more than the triage itself).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

PROFILES = Path(__file__).parents[1] / "checks" / "triage_profiles"


def test_the_shipped_welfare_review_profile(assay_cli) -> None:
    code, out, err = assay_cli("triage", "welfare-review")
    assert code == 0, err
    result = json.loads(out)
    findings = {f["topic"]: (f["answer"], f["category"]) for f in result["findings"]}
    assert findings == {
        "kr_high_impact": ("yes", "자"),
        "kr_notice": ("yes", "31(1)"),
        "kr_compute": ("unknown", None),
        "kr_automated_decision": ("no", None),
        "eu_prohibited": ("none", None),
        "eu_annex_iii": ("high_risk", "5(a)"),
        "ca_impact_level": ("III", "III"),
    }
    assert [(p["id"], p["need"]) for p in result["packs"]][:2] == [
        ("kr-public-service", "applies"),
        ("eu-ai-act-high-risk", "applies"),
    ]
    assert "fairness.group_metrics" in result["checks"]
    assert "Triage of welfare-review" in err
    assert "KR-AIBA-2.4.ja" in err and "KR-GUIDE-HI-2026?" in err
    assert "unanswered: training_compute_flops, state_of_the_art, broad_serious_risk" in err
    assert "always high-risk" in err  # it scores recipients' risk: profiling, never exempt


def test_answers_and_candidate_with_output_file(assay_cli, tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "discretion: true\nrights_effect: high\nreversibility: difficult\n"
        "state_of_the_art: true\nbroad_serious_risk: true\n"
    )
    output = tmp_path / "out" / "triage.json"
    output.parent.mkdir()
    code, out, err = assay_cli(
        "triage",
        str(PROFILES / "unknown-answers.yaml"),
        "--answers",
        str(answers),
        "--candidate",
        str(PROFILES / "candidate-frontier.yaml"),
        "--output",
        str(output),
    )
    assert code == 0, err
    assert out == ""
    result = json.loads(output.read_text(encoding="utf-8"))
    findings = {f["topic"]: f["answer"] for f in result["findings"]}
    assert findings == {
        "kr_high_impact": "yes",
        "kr_notice": "yes",
        "kr_compute": "reached",
        "kr_automated_decision": "unknown",
        "eu_prohibited": "unknown",
        "eu_annex_iii": "high_risk",
        "ca_impact_level": "III",
    }
    assert result["sources"]["discretion"] == "answers"
    assert result["sources"]["domain"] == "profile"
    assert result["sources"]["training_compute_flops"] == "candidate"


@pytest.mark.parametrize("name", ["info-chatbot", "frontier-assistant", "generative-chatbot"])
def test_no_pack_applies_to_an_information_chatbot(assay_cli, name: str) -> None:
    code, out, err = assay_cli("triage", str(PROFILES / f"{name}.yaml"))
    assert code == 0, err  # information, not a gate
    result = json.loads(out)
    assert result["checks"] == []
    assert "none (no pack applies)" in err
    assert "Art 50" in err
    # A generative chatbot still has Korean duties: notice to users and labelling (Art 31).
    notice = next(f for f in result["findings"] if f["topic"] == "kr_notice")
    generative = name != "info-chatbot"
    assert (notice["answer"], notice["category"]) == (("yes", "31(1)–(3)") if generative else ("no", None))


def test_the_table_says_prohibited_unknown_and_flagged(assay_cli) -> None:
    shown = {
        "social-scoring": ["prohibited (5(1)(c))", "EU-AIA-5(1)(c)"],
        "contractor-eligibility": ["unanswered: on_behalf_of_state_body", "KR-AIBA-2.7"],
        "automated-discretion": ["flagged (Art 20)", "KR-GAPA-20?", "KR-PIPA-37-2?"],
    }
    for name, texts in shown.items():
        code, _, err = assay_cli("triage", str(PROFILES / f"{name}.yaml"))
        assert code == 0, err
        for text in texts:
            assert text in err, (name, text)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


LIGHT = (
    "id: svc\ntitle: {ko: 서비스, en: service}\ndecision: {ko: 결정, en: decision}\n"
    "triage:\n  domain: hiring\n"
)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing_profile", "{dir}/nope.yaml: no such file"),
        ("bad_yaml", "{dir}/profile.yaml: not valid YAML at line "),
        ("unknown_domain", "{dir}/profile.yaml: field 'triage.domain': Input should be 'energy'"),
        ("profile_typo", "{dir}/profile.yaml: field 'tirage': Extra inputs are not permitted"),
        ("answer_typo", "{dir}/answers.yaml: field 'discretin': Extra inputs are not permitted"),
        ("compute_not_a_number", "{dir}/answers.yaml: field 'training_compute_flops': Input should be a "
         "valid number"),
        ("compute_yes", "{dir}/answers.yaml: field 'training_compute_flops': expected a number of FLOPs"),
        ("generative_maybe", "{dir}/answers.yaml: field 'generative': Input should be a valid boolean"),
        ("candidate_compute", "{dir}/candidate.yaml: field 'training_compute_flops': Input should be a "
         "valid number"),
        ("contradiction", "{dir}/answers.yaml: field 'final_decision': 'system' takes the final decision"),
        ("half_full_profile", "{dir}/profile.yaml: field 'id_column': Field required"),
        ("missing_answers", "{dir}/answers.yaml: no such file"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_with_exit_2(assay_cli, tmp_path: Path, case: str, expected: str) -> None:
    profile = _write(tmp_path, "profile.yaml", LIGHT)
    args = ["triage", str(profile)]
    if case == "missing_profile":
        args[1] = str(tmp_path / "nope.yaml")
    elif case == "bad_yaml":
        _write(tmp_path, "profile.yaml", "id: svc\ntitle: [unclosed\n")
    elif case == "unknown_domain":
        _write(tmp_path, "profile.yaml", LIGHT.replace("hiring", "welfare"))
    elif case == "profile_typo":
        _write(tmp_path, "profile.yaml", LIGHT.replace("triage:", "tirage:"))
    elif case == "half_full_profile":
        _write(tmp_path, "profile.yaml", LIGHT + "risk_tier: high-impact\n")
    elif case == "candidate_compute":
        manifest = (PROFILES / "candidate-frontier.yaml").read_text()
        bad = manifest.replace("training_compute_flops: 2.5e+26", "training_compute_flops: 10^26")
        args += ["--candidate", str(_write(tmp_path, "candidate.yaml", bad))]
    else:
        text = {
            "answer_typo": "discretin: true\n",
            "compute_not_a_number": "training_compute_flops: lots\n",
            "compute_yes": "training_compute_flops: yes\n",
            "generative_maybe": "generative: maybe\n",
            "contradiction": "final_decision: system\nautomation: recommends\n",
        }.get(case)
        answers = _write(tmp_path, "answers.yaml", text) if text else tmp_path / "answers.yaml"
        args += ["--answers", str(answers)]
    code, out, err = assay_cli(*args)
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: " + expected.format(dir=tmp_path)), lines[0]


def test_a_contradiction_between_profile_and_answers_names_the_answers_file(
    assay_cli, tmp_path: Path
) -> None:
    profile = _write(tmp_path, "profile.yaml", LIGHT + "  automation: assists\n")
    answers = _write(tmp_path, "answers.yaml", "final_decision: system\n")
    code, _, err = assay_cli("triage", str(profile), "--answers", str(answers))
    assert code == 2
    assert err.strip() == (
        f"error: {answers}: field 'final_decision': 'system' takes the final decision, but automation "
        "'assists' says the system does not decide"
    )
