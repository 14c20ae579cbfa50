"""The check registry: stable ids, what each check needs, and running one safely."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from assay.checks.context import AuditContext
from assay.checks.phrase import N_, Text, joined, phrase
from assay.checks.results import CheckResult, Need, Status

CheckFn = Callable[[AuditContext], CheckResult]

# How a not-assessed message names a missing need; the English is the need's own id.
NEED_WORDS = {
    Need.LABELS: Text(ko="정답 레이블", en="labels"),
    Need.SCORES: Text(ko="점수", en="scores"),
    Need.DECISIONS: Text(ko="결정", en="decisions"),
    Need.MODEL_ACCESS: Text(ko="모델 접근", en="model_access"),
    Need.SENSITIVE: Text(ko="민감 속성", en="sensitive"),
    Need.CONTRACT: Text(ko="데이터 계약", en="contract"),
}


@dataclass(frozen=True)
class Check:
    """A registered check: its stable id, title, needs and function."""

    id: str
    title: str
    needs: tuple[Need, ...]
    metrics: tuple[str, ...]
    fn: CheckFn


_REGISTRY: dict[str, Check] = {}


def register(
    check_id: str, title: str, needs: tuple[Need, ...], metrics: tuple[str, ...]
) -> Callable[[CheckFn], CheckFn]:
    """Register a check function under a stable id, with the needs and metrics it declares."""

    def deco(fn: CheckFn) -> CheckFn:
        if check_id in _REGISTRY:
            raise ValueError(f"check id {check_id!r} registered twice")
        _REGISTRY[check_id] = Check(check_id, title, needs, metrics, fn)
        return fn

    return deco


def _load_builtin() -> None:
    # Importing the modules registers their checks; ids never depend on these module paths.
    from assay.checks import (  # noqa: F401
        bias,
        calibration,
        contract,
        counterfactual,
        declared,
        explain,
        fairness,
        mitigation,
        performance,
        reasons,
        surrogate,
    )


def all_checks() -> dict[str, Check]:
    """Return every registered check by id."""
    _load_builtin()
    return dict(_REGISTRY)


def get_check(check_id: str) -> Check:
    """Return the check with this id, or raise KeyError naming the known ids."""
    checks = all_checks()
    if check_id not in checks:
        raise KeyError(f"unknown check id {check_id!r} (known: {', '.join(sorted(checks))})")
    return checks[check_id]


def run_check(check: Check, ctx: AuditContext) -> CheckResult:
    """Run one check; a missing need gives not_assessed and a crash gives error, never a raise."""
    missing = [NEED_WORDS[n] for n in check.needs if not ctx.has(n)]
    if missing:
        return CheckResult.of(
            check_id=check.id,
            title=check.title,
            status=Status.NOT_ASSESSED,
            phrases=[phrase(N_("not assessed: the audit has no {needs}"), needs=joined(missing))],
        )
    start = time.perf_counter()
    try:
        result = check.fn(ctx)
    except Exception as exc:  # a broken check must not sink the audit
        result = CheckResult.of(
            check_id=check.id,
            title=check.title,
            status=Status.ERROR,
            phrases=[phrase(N_("{type}: {exc}"), type=type(exc).__name__, exc=str(exc))],
        )
    return result.model_copy(update={"seconds": round(time.perf_counter() - start, 4)})
