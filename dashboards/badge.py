"""The trust label's badge: an SVG that shows a label's essentials and its short fingerprint."""

from __future__ import annotations

from typing import Any

from assay.dashboards.report import ENV

# Okabe-Ito blue for a clean label, vermillion's neighbour orange for one with conditions: both
# keep white text legible and differ for colour-blind readers by more than hue alone (the heading
# also says it in words).
COLOURS = {"eligible": "#0072B2", "eligible_with_conditions": "#B35900"}
HEADINGS = {
    "eligible": "Assay audit label · 적격 (eligible)",
    "eligible_with_conditions": "Assay audit label · 조건부 적격 (with conditions)",
}


def render_badge(label: dict[str, Any], fingerprint: str) -> str:
    """Return the SVG badge of a label; the same label always gives the same bytes."""
    recommendation = str(label["recommendation"])
    conditions = label.get("conditions") or []
    heading = HEADINGS.get(recommendation, recommendation)
    service = f"{label['service']} · {label['vendor']}"
    model = f"{label['model']} {label['model_version']} (sha256 {str(label['model_sha256'])[:12]})"
    policy = f"{label['policy']['id']} {label['policy']['version']} · {label['audit_id']}"
    if conditions:
        policy += f" · {len(conditions)} condition{'s' if len(conditions) != 1 else ''}"
    validity = f"issued {label['issued']} · valid until {label['expires']}"
    footer = f"label {fingerprint} · verify: assay label verify LABEL --public-key KEY"
    return ENV.get_template("badge.svg.j2").render(
        title=heading,
        desc=f"{service}; {model}; {policy}; {validity}; {footer}",
        colour=COLOURS.get(recommendation, "#374151"),
        heading=heading,
        service=service,
        model=model,
        policy=policy,
        validity=validity,
        footer=footer,
    )
