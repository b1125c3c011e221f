"""fundcdp's Dagster code location."""
