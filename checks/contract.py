"""The dataset's contract: a Great Expectations suite validated before anything is scored."""

from __future__ import annotations

import os
from typing import Any

from assay.checks.context import AuditContext
from assay.checks.errors import AssayInputError
from assay.checks.phrase import N_, Phrase, phrase
from assay.checks.registry import register
from assay.checks.results import CheckResult, MetricRow, Need, Status

CHECK_ID = "data.contract"
TITLE = "Data contract (Great Expectations)"


def expectation_class_name(kind: str) -> str:
    """Return GX's class name for an expectation type such as `expect_column_to_exist`."""
    return "".join(part.capitalize() for part in kind.split("_"))


def build_suite(spec: list[dict[str, Any]], name: str) -> Any:
    """Build a GX ExpectationSuite from the contract's list of `{type: ..., **kwargs}` items."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=name)
    for i, item in enumerate(spec):
        kwargs = dict(item)
        kind = str(kwargs.pop("type", ""))
        cls = getattr(gxe, expectation_class_name(kind), None)
        if not kind.startswith("expect_") or cls is None:
            raise AssayInputError(f"expectation {i + 1}: unknown expectation type {kind!r}")
        try:
            suite.add_expectation(cls(**kwargs))
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise AssayInputError(f"expectation {i + 1} ({kind}): {first}") from exc
    return suite


def _summary(result: Any) -> dict[str, Any]:
    """Keep an expectation result's counts only: GX's value lists would leak personal data."""
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
    counts = {
        k: v
        for k, v in (result.result or {}).items()
        if k in ("element_count", "unexpected_count", "unexpected_percent", "missing_count")
    }
    return {"type": config.type, "kwargs": kwargs, "success": bool(result.success), **counts}


def failure_phrase(item: dict[str, Any]) -> Phrase | str:
    """Return one short phrase for a failed expectation: its type, column and unexpected rows."""
    kind, column, count = str(item["type"]), item["kwargs"].get("column"), item.get("unexpected_count")
    if column and count:
        return phrase(
            N_("{expectation} on {column} ({count} rows)"),
            expectation=kind,
            column=repr(column),
            count=str(count),
        )
    if column:
        return phrase(N_("{expectation} on {column}"), expectation=kind, column=repr(column))
    if count:
        return phrase(N_("{expectation} ({count} rows)"), expectation=kind, count=str(count))
    return kind


def describe_failure(item: dict[str, Any]) -> str:
    """Return one short phrase for a failed expectation, in English."""
    return str(failure_phrase(item))


@register(CHECK_ID, TITLE, (Need.CONTRACT,), ("expectations", "failed_expectations"))
def validate_contract(ctx: AuditContext) -> CheckResult:
    """Validate the evaluation data against its contract and report each expectation."""
    assert ctx.contract is not None
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no network on agency machines
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("assay")
        .add_dataframe_asset("evaluation")
        .add_batch_definition_whole_dataframe("all")
    )
    suite = build_suite(ctx.contract, f"{ctx.profile.id}-contract")
    batch = batch_definition.get_batch(batch_parameters={"dataframe": ctx.data})
    results = [_summary(r) for r in batch.validate(suite).results]
    failed = [r for r in results if not r["success"]]
    return CheckResult.of(
        check_id=CHECK_ID,
        title=TITLE,
        status=Status.FAILED if failed else Status.PASSED,
        metrics=[
            MetricRow(check_id=CHECK_ID, metric="expectations", value=len(results), n=len(ctx.data)),
            MetricRow(check_id=CHECK_ID, metric="failed_expectations", value=len(failed), n=len(ctx.data)),
        ],
        phrases=[phrase(N_("failed: {failure}"), failure=failure_phrase(r)) for r in failed],
        details={"expectations": results},
    )
