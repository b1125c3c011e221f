"""Dagster definitions, one subfolder per concern."""
