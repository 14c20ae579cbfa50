"""Policy packs shipped with Assay (YAML files; no code)."""
