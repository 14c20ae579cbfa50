"""Scenario data, service profiles, dataset contracts and the loaders for every input file."""
