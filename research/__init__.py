"""research: a top-level consumer of the enclava library (see docs/ORDER_FLOW.md's layer
picture)."""
