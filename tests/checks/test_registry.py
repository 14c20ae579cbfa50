"""The registry: a check that cannot run is not_assessed with a reason; a crash is an error."""

from __future__ import annotations

import pandas as pd

from assay.checks.context import AuditContext
from assay.checks.registry import Check, get_check, run_check
from assay.checks.results import Need, Status


def test_missing_model_access_gives_not_assessed_with_the_reason(profile) -> None:
    ctx = AuditContext(profile=profile, data=pd.DataFrame(), sensitive=pd.DataFrame())
    result = run_check(get_check("explain.global_importance"), ctx)
    assert result.status == Status.NOT_ASSESSED
    assert "model_access" in result.messages[0]


def test_a_crashing_check_is_an_error_not_an_exception(profile) -> None:
    def boom(ctx: AuditContext):
        raise ZeroDivisionError("division by zero")

    check = Check("test.boom", "boom", (Need.LABELS,), ("x",), boom)
    ctx = AuditContext(profile=profile, data=pd.DataFrame(), labels=pd.Series([1]).to_numpy())
    result = run_check(check, ctx)
    assert result.status == Status.ERROR
    assert result.messages == ["ZeroDivisionError: division by zero"]
