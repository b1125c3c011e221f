"""The dashboard app (``make dashboards``): Streamlit over ``analytics.duckdb``, read-only."""
