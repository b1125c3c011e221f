"""Predictive and cluster tags: churn propensity and behaviour clusters (README "Predictive tags")."""
