"""The inbound pipeline: intake, inbox, scheduler, lease and the turn worker."""
