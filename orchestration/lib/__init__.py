"""Pure, unit-testable helpers: no Dagster decorators, no I/O at import time."""
