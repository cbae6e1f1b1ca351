"""`python -m server.cli`: the same as the `switchboard` command."""

from server.cli import main

main()
