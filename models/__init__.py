"""Candidate intake: the candidate.yaml manifest and adapters that turn a vendor's model into outputs."""
