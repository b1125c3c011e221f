"""Segments: declarative audiences (segments/*.yml) validated, compiled to SQL, previewed, published."""
