"""Authenticate: verify the customer before any tool touches their data.

A WhatsApp number on file verifies at once. Otherwise the customer proves an order: one order
number with one secret, the last 4 characters of its postcode (or all of it) or the email on
the order (nodes/claims.py). Whether a claim may be tried and what it counts towards is the
verification ledger's (tools/verification.py), kept in Postgres: failures lock the target
customer and the sending number whichever conversation they come from, and many failures
everywhere pause order checks for all. The `verification` in state only mirrors it for the
conversation view.

Replies never tell whether an order exists or whose it is: an unknown order, a wrong secret and
a customer locked by someone else's guesses all get the same answer.
"""

from __future__ import annotations

import logging
from datetime import datetime

from langgraph.runtime import Runtime

from graph.context import Context
from graph.services import Services, services_for
from graph.state import State, Verification, move
from nodes import audit_notes, prompts
from nodes.claims import MAX_LOOKUPS, Claim, judge, read_claim
from nodes.common import say, turn_text
from nodes.prompts_i18n import localized, reply_language
from tools.verification import Lock, Scope, Verdict, VerificationLedger

log = logging.getLogger(__name__)


def _minutes(until: datetime, now: datetime) -> int:
    return max(1, -int(-(until - now).total_seconds() // 60))  # rounded up: never "0 minutes"


def _refused(lock: Lock, now: datetime, language: str, failures: int = 0, tripped: bool = False,
             flags: list[str] | None = None) -> dict:
    """The reply to a claim refused by a lock: the number's own, or the global pause."""
    if lock.scope == "global":
        return {"verification": Verification(status="challenged", method=None, attempts=failures,
                                             locked_until=None),
                **say(localized(prompts.VERIFY_PAUSED, language))}
    minutes = _minutes(lock.until, now)
    update = {"verification": Verification(status="locked", method=None, attempts=failures,
                                           locked_until=lock.until.isoformat()),
              **say(localized(prompts.VERIFY_LOCKED, language).format(minutes=minutes))}
    if tripped:  # the failure that locked the number brings in a human, once
        update["flags"] = [*(flags or []), "verification_lockout"]
    return update


async def _decide(services: Services, ledger: VerificationLedger, claim: Claim, sender: str,
                  now: datetime, context: Context, turn: int) -> Verdict:
    """Look up the claimed orders and let the ledger decide and record the claim (in the
    audit trail too, under the conversation's ref and this turn)."""
    orders = {ref: await services.shop.order_for_verification(ref)
              for ref in claim.refs[:MAX_LOOKUPS]}
    return await ledger.settle(sender, judge(claim, orders), now=now, turn_key=context.turn_key,
                               conversation_ref=context.conversation_ref, turn=turn)


async def authenticate(state: State, runtime: Runtime[Context]) -> dict:
    """Verify the customer (number on file, or an order claim the ledger judges) before data
    tools run."""
    context = runtime.context or Context()
    services = await services_for(context)
    shop, ledger, now = services.shop, services.verification, context.clock()
    language = reply_language(state.language, services.settings.business.languages)
    if state.verification["status"] == "verified" and state.customer:
        return {}

    def verified(customer: dict, method: str) -> dict:
        return {"customer": customer, **move(state.status, "authed", now.isoformat()),
                "verification": Verification(status="verified", method=method, attempts=0,
                                             locked_until=None)}

    # Only a real number is looked up: a username-only customer (no phone) proves an order.
    on_file = await shop.customer_by_phone(context.phone) if context.phone else None
    if on_file:
        audit_notes.note(runtime.context, audit_notes.verification(
            state.turn, "verified", "phone_on_file"))
        return verified(on_file, "phone_on_file")
    if not state.needs_account:
        return {}  # a policy question needs no proof of identity (nodes/own_account.py)
    if ledger is None:  # no ledger, no counting: order claims are not tried at all
        log.warning("no verification ledger configured: order claims are refused")
        return say(localized(prompts.VERIFY_PAUSED, language))

    # The sender is the server's (the webhook's), never the message's or a model's. The ledger
    # counts failures per conversation id: a number's digits, or a username-only customer's
    # BSUID (hashed, and never looked up as a phone number).
    sender = context.conversation_id or ""
    claim = read_claim("\n".join(context.inbound) or turn_text(state.messages))
    challenged = Verification(status="challenged", method=None,
                              attempts=state.verification["attempts"], locked_until=None)
    if not claim.complete:  # nothing to try; a claim is checked (and recorded) by the ledger
        lock = await ledger.check_locked(None, sender, now)
        if lock:
            return _refused(lock, now, language)
        ask = prompts.VERIFY_ONE if claim.several else prompts.VERIFY_ASK
        return {"verification": challenged, **say(localized(ask, language))}

    verdict = await _decide(services, ledger, claim, sender, now, context, state.turn)
    if verdict.outcome == "verified":
        customer = await shop.customer_by_id(verdict.customer_id) if verdict.customer_id else None
        if customer is None:  # the ledger verified an order without an owner: a bug
            raise LookupError("verified claim without a customer")
        return {**verified(customer, "order_claim"), **say(localized(prompts.VERIFY_OK, language).format(
            name=customer["name"].split()[0]))}
    if verdict.outcome in ("locked", "paused"):
        scope: Scope = "global" if verdict.outcome == "paused" else "number"
        until = verdict.until or now  # the ledger always says when a lock ends
        return _refused(Lock(scope, until), now, language, verdict.failures, verdict.tripped,
                        state.flags)
    challenged["attempts"] = verdict.failures
    text = (localized(prompts.VERIFY_ONE, language) if claim.several
            else localized(prompts.VERIFY_RETRY, language).format(left=verdict.tries_left))
    return {"verification": challenged, **say(text)}
