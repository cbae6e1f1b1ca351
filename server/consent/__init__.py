"""Consent: opt-in and opt-out (STOP, START and their equivalents in every supported language)
and the business's identification on first contact.

- keywords.py: which messages are consent keywords;
- store.py: the `customer_consent` table and the audit events of every change;
- first_contact.py: the identification line, said once per customer.

The outbox applies the rule that nothing but a consent confirmation goes to an opted-out
customer (server/outbox/opt_out.py); a turn that starts with a keyword is handled by
server/inbound/consent_turn.py before the graph runs.
"""

from server.consent.keywords import Action, Keyword, keyword_of, last_keyword
from server.consent.store import (
    CUSTOMER_INITIATED,
    KEYWORD,
    is_opted_out,
    note_inbound,
    record_opt_in,
    record_opt_out,
    status_of,
)

__all__ = ["CUSTOMER_INITIATED", "KEYWORD", "Action", "Keyword", "is_opted_out", "keyword_of",
           "last_keyword", "note_inbound", "record_opt_in", "record_opt_out", "status_of"]
