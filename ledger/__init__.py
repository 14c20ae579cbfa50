"""The ledger: versioned, append-only, hash-chained audit records and their verification."""
