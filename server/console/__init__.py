"""The agent console: login, queue, conversation view and actions, live updates."""
