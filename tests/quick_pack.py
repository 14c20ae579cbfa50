"""A local pack for end-to-end tests: the default pack's clauses on fewer explained rows."""

# The default pack's clauses and thresholds with fewer rows explained, flipped and resampled. The
# ONNX and endpoint vendors are black boxes, explained by permutation through their scores: about
# a hundred rows (one per stratum of sensitive groups × decision), one or two permutations each.
QUICK_PACK = """\
extends: kr-public-service
id: kr-public-service-quick
version: "1"
parameters:
  explain_permutation_rows: 20
  explain_background_rows: 20
  explain_max_evals: 34
  explain_examples: 2
  explain_rows: 1000
  explain_row_budget: 4000
  surrogate_rows: 5000
  flip_rows: 2000
  n_boot: 200
"""
