"""Policy packs shipped with Assay (YAML files and their README), and which one is the default."""

# The pack an audit uses when none is named: Korea's public-service pack.
DEFAULT_POLICY = "kr-public-service"
