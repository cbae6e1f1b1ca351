"""Graph nodes, one per module, plus the pieces they share (prompts, checks, offline brain)."""
