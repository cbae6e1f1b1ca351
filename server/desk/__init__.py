"""The human desk: conversation sessions, handoffs, agents, SLA and the console's data."""
