"""The support graph: state, per-run context, service wiring and the builder."""
