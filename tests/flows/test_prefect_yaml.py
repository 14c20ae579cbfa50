"""The example deployments in prefect.yaml load, and their parameters are valid monitor specs."""

from __future__ import annotations

import zoneinfo
from pathlib import Path

import pytest
import yaml
from prefect.client.schemas.schedules import CronSchedule
from prefect.flows import load_flow_from_entrypoint

from assay.data.loaders import load_policy
from assay.flows.monitor import MonitorSpec

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_example_deployment_is_a_valid_monitor(deployment: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # prefect deploy runs from the project folder
    flow = load_flow_from_entrypoint(deployment["entrypoint"])
    assert flow.name == "assay-monitor"
    spec = flow.validate_parameters(deployment["parameters"])["spec"]
    # Loaded from its file, the flow's module is a second copy: compare by name and fields.
    assert type(spec).__name__ == "MonitorSpec" and set(type(spec).model_fields) == set(
        MonitorSpec.model_fields
    )
    load_policy(spec.policy)  # the pack it names is shipped
    for schedule in deployment["schedules"]:
        assert schedule["timezone"] in zoneinfo.available_timezones()
        CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    assert deployment["work_pool"]["name"] == "assay"


def test_a_wrong_parameter_is_refused() -> None:
    flow = load_flow_from_entrypoint(f"{ROOT / 'flows' / 'monitor.py'}:monitor")
    params = {"spec": {**DEPLOYMENTS[0]["parameters"]["spec"], "seed": "not a number"}}
    with pytest.raises(Exception, match="seed"):
        flow.validate_parameters(params)
