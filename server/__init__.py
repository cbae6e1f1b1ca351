"""Switchboard's server side: settings, database, CLI, and (later) webhooks, console and workers."""
