"""Pure audit computations: typed results, the check registry and the checks themselves."""
