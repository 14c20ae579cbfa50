"""Rendering from stored records only: per-audit reports and, later, comparisons and the site."""
