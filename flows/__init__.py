"""Prefect flows that wire intake, data, checks, policy and ledger together, and the `assay` CLI."""
