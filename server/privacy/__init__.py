"""Customer data's lifetime: where it lives (data_map), how long each class is kept (prune,
run daily by every worker through daily), and erasing one customer on request (forget, with
identify turning what an operator types into the customer). docs/retention.md."""
