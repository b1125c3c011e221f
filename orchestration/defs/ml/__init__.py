"""Predictive and cluster tags: churn propensity and behaviour clusters (docs/predictive_tags.md)."""
