"""Demo source systems for fundcdp: writes landing/ exactly as the trade system, CRM and tracking deliver.

Nothing in the pipeline imports this package. Entry points: `python -m demo_sources.generate ...` and
`demo_sources.generate.generate(data_dir, customers=2000, seed=42, end_date=date(2026, 6, 30), days=90,
dirt=DirtConfig())` with `demo_sources.config.DirtConfig` (or `DirtConfig.none()` for clean data).
"""
