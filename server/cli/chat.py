"""`switchboard chat`: talk to the agent in the terminal as a WhatsApp customer, and play the
human agent while a conversation is paused."""

from __future__ import annotations

import asyncio
import logging
import os
import warnings

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

console = Console()

CHAT_HELP = """Type as the customer. Commands for playing the human agent while a chat is paused:
  /agent TEXT     reply to the customer as a human agent
  /return NOTES   hand the conversation back to the bot, with notes for it
  /resolve        close the conversation and ask the customer for a 1-5 rating (CSAT)
  /quit           leave (the conversation is kept; --new starts a fresh one)"""
PAUSED = ("This conversation is paused, waiting for a human ({reason}): what you type goes to "
          "their queue. Play the human with /agent, /return or /resolve, or start over with --new.")


def quiet() -> None:
    """Warnings off and logs at LOG_LEVEL (default WARNING), redacted: the terminal is the output."""
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"))
    from server.log_redaction import install

    install()  # the terminal chat logs through the same redaction as the server


def chat(phone: str = typer.Option("447700900101", help="The customer's WhatsApp number "
                                   "(447700900101 is on file; any other number must verify)."),
         agent_id: str = typer.Option("cli-agent", help="Your id when you act as the human agent."),
         new: bool = typer.Option(False, "--new", help="Delete this number's conversation first "
                                  "and start a fresh one.")):
    """Chat with the agent in the terminal as a WhatsApp customer."""
    from knowledge.base import EmbeddingModelMismatch

    quiet()
    try:
        asyncio.run(_chat(phone, agent_id, new))
    except EmbeddingModelMismatch as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from None


async def _chat(phone: str, agent_id: str, new: bool = False) -> None:
    from graph.base.conversation import conversation_id
    from graph.base.settings import get_settings
    from server.composition import open_core
    from server.desk import csat
    from server.desk.desk import CSAT_PROMPT

    with console.status("Starting Switchboard (embedded PostgreSQL and Chroma on first run)..."):
        opened = open_core(get_settings())  # no desk here: you play the human
        switchboard = await opened.__aenter__()
    try:
        conversations, conversation = switchboard.conversations, conversation_id(phone)
        brain = "offline brain" if switchboard.services.agent_model is switchboard.services.fallback_model \
            else "configured model"
        business = switchboard.services.settings.business.name
        console.print(banner(business, phone, brain))
        if new:
            await conversations.forget(conversation)
            console.print("[dim](started a new conversation: the earlier one was deleted)[/]")
        elif handoff := await conversations.pending_handoff(conversation):
            console.print(f"[yellow]{PAUSED.format(reason=handoff.get('reason') or 'handed off')}[/]")
        # What you write as the human, and as the customer while paused, until the hand-back.
        # With no desk here, the chat keeps both: the server's desk records them as events.
        agent_messages: list[str] = []
        held: list[str] = []
        while True:
            try:
                text = (await asyncio.to_thread(console.input, "[bold cyan]you ›[/] ")).strip()
            except (EOFError, KeyboardInterrupt):
                break
            if not text:
                continue
            command, _, rest = text.partition(" ")
            if command == "/quit":
                break
            if command == "/agent":
                agent_messages.append(rest)
                console.print(f"[magenta]agent ({agent_id}) ›[/] {rest}")
                continue
            if command in ("/return", "/resolve"):
                action = "return_to_bot" if command == "/return" else "resolved"
                try:
                    turn = await conversations.resume(conversation, {
                        "action": action, "agent": agent_id, "notes": rest,
                        "customer_messages": held, "agent_messages": agent_messages})
                except LookupError as error:
                    console.print(f"[red]{error}[/]")
                    continue
                agent_messages, held = [], []
                console.print(f"[dim]conversation {'returned to the bot' if action == 'return_to_bot' else 'closed'}[/]")
                _show(turn.replies, business)  # nothing: the bot answers only what the customer writes next
                if action == "resolved":  # as the console's "ask for CSAT" does
                    async with conversations.pool.connection() as conn:
                        await csat.ask(conn, conversation, agent_id)
                    _show([CSAT_PROMPT], business)
                continue
            turn = await conversations.handle(conversation, text)
            _show(turn.replies, business)
            if turn.held:
                held.append(text)
                console.print("[dim](paused for a human: your message went to their queue; "
                              "use /agent, /return or /resolve)[/]")
            elif turn.handoff:
                console.print(f"[dim](handed to a human: {turn.handoff['reason']}, "
                              f"priority {turn.handoff['priority']})[/]")
    finally:
        await opened.__aexit__(None, None, None)


def banner(business: str, phone: str, brain: str) -> Panel:
    """The chat's opening panel: whose support this is, as whom, and which model answers."""
    return Panel(CHAT_HELP, title=f"{escape(business)} · Switchboard chat · {phone} · {brain}")


def _show(replies: list[str], business: str) -> None:
    """The bot's replies, each under the configured business name (BUSINESS__NAME); as plain
    text, not rich markup, so a reply's "[link removed]" shows as written."""
    for reply in replies:
        console.print(Panel(Text(reply), title=escape(business), title_align="left", border_style="green"))
