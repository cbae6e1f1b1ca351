"""Whether a turn's answer needs the customer's own account, or is a policy question anyone
may ask.

"Where is my order?" needs the account (their order's status); "Do you deliver on Saturdays?"
and "can I change my delivery address?" do not, though the router calls all three
`order_status`. Verification is asked for only when the account is needed, so a general
question about delivery, tracking, addresses, payment, gift cards, promo codes or scams gets
the help center's answer at once.

The rule: the message names one of the customer's own things (an order number; "my order",
"my parcel", "my refund", "my invoice"...; or "I ordered", "I was charged") and asks about its
state (where, when, status, arrived, charged twice...) or asks for it ("send me my invoice"),
and is not a how-to question ("how do I track my order?", "can I change my address?"). Some
statements are about the account by themselves ("I was charged twice", "order status",
"invoice please"), and a message with an order number ("HP-10002?") is always about that
order. Read on the folded text
(`graph.base.pii.skeleton`: lower case, no accents), in English, Spanish, German, French and
Portuguese, like the router.
"""

from __future__ import annotations

import re

from graph.base.pii import normalize, skeleton
from graph.base.pii_patterns import ORDER_REF

ACCOUNT_INTENTS = frozenset({"order_status", "billing", "complaint"})
"""Intents whose answer may read or change the customer's own data."""
ALWAYS_ACCOUNT = frozenset({"complaint"})
"""Intents that always do: a complaint opens a ticket on the customer's account."""

_THINGS = (r"orders?|oder|parcels?|packages?|deliver(y|ies)|shipments?|refunds?|money|invoices?|"
           r"receipts?|bills?|payments?|charges?|statement|returns?|items?|purchases?|stuff|goods|"
           r"things|sofa|table|chairs?|bed|desk|wardrobe|bookcase|lamp|rug|mattress|furniture|"
           r"pedidos?|paquetes?|envios?|reembolsos?|facturas?|devolucion|compras?|"
           r"bestellung(en)?|pakete?s?|lieferung(en)?|sendung(en)?|ruckerstattung|rechnung(en)?|"
           r"zahlung|commandes?|colis|livraisons?|remboursements?|factures?|paiements?|achats?|"
           r"encomendas?|pacotes?|entregas?|faturas?|pagamentos?")
_OWN = re.compile(
    # A possessive (or "this") within two words of a thing.
    rf"\b(my|our|mine|this|mi|mis|mein(e|en|er|es)?|ma|mon|mes|meu|minha|meus|minhas)"
    rf"( \w+){{0,2}} ({_THINGS})\b"
    # Something the customer did that only their account records.
    r"|\bi( have|'ve|ve)? (ordered|bought|paid|purchased|placed|returned|sent (it|them|\w+) back)\b"
    r"|\bi( was|'ve been| have been| got| ve been) (charged|billed|debited|refunded|overcharged)\b"
    r"|\b(ordered|placed an order|bought it) (on|last|yesterday|this|a week|\d)"
    r"|\b(he pedido|he comprado|ich habe (bestellt|bezahlt)|j'?ai commande|eu (encomendei|comprei|paguei))\b")
_STATE = re.compile(
    r"\b(where|when|status|update|news|arriv\w*|come|coming|came|gets? here|turn up|show(ed)? up|"
    r"ship(ped)?|sent|dispatch(ed)?|deliver(ed)?|out for delivery|on (its|the) way|left|"
    r"received?|got|track(ing)?|late|delay\w*|still|yet|eta|"
    r"missing|lost|stuck|happened|twice|two times|double|again|wrong|failed|not|never|"
    r"hasn'?t|haven'?t|didn'?t|isn'?t|has it|is it|did it|send me|resend|copy|need|want|"
    r"cancel\w*|check\w*|locate|"
    # es, de, fr, pt
    r"donde|cuando|estado|llega\w*|llego|salio|enviado|todavia|aun|esper\w*|retras\w*|"
    r"wo|wann|kommt|angekommen|versendet|verschickt|verspat\w*|noch|"
    r"ou est|ou en est|quand|statut|arrive\w*|expedie\w*|toujours|retard|"
    r"onde|quando|chega\w*|atrasad\w*|ainda)\b")
_OWN_PROBLEM = re.compile(
    # Statements that are about the customer's own account by themselves.
    r"\b((order|delivery|parcel) (status|eta|update)|wheres? my|"
    r"charged (me )?(twice|two times|double)|double (payment|charge)|overcharged|"
    r"(took|taken|left) (the|my) money|(don'?t|do not) recogni[sz]e|"
    r"(send|need|want|get) (me )?(a |an |my |the )?(vat )?(invoice|receipt)|invoice please|"
    r"never (got|received|arrived|came)|haven'?t (received|got)|(no one|nobody) (showed|came|turned)|"
    r"waiting (on|for) (a|my|the) (delivery|parcel|order)|(was|been) taken|order says|"
    r"(charge|deposit) (on|from) my|(order|pedido|bestellung|commande) (number |no |nr )?\d{4,}|"
    r"estimated delivery|me llega|me cobraron|cobro duplicado|rechnung fehlt|facture svp|nota fiscal|"
    r"cobrado dos veces|necesito una factura|doppelt belastet|rechnung schicken|"
    r"debite deux fois|envoyer une facture|cobrado duas vezes|preciso da fatura)\b")
_HOW_TO = re.compile(
    r"\b(how (do|can|would|should) (i|we|you)|how to|can (i|we)|could (i|we)|"
    r"is it possible|are you able|do (i|we|you)|should i|must i|what happens|what if|"
    r"does (it|delivery|shipping)|what (is|are|s) (your|the)|"
    r"where (can|do) (i|we) (find|see|get)|is there|are there|which|"
    r"(como|puedo|se puede)\b|\b(kann ich|wie kann|liefern sie)\b|"
    r"\b(comment|puis-je|est-ce que je peux|peut-on)\b|\b(posso|voces|vcs))\b")


def asks_about_own_account(text: str) -> bool:
    """Whether answering `text` needs the customer's own account (their order's status,
    refund or invoice) rather than the help center's policy.

    Args:
        text: The customer's message(s) this turn.
    """
    folded = skeleton(text)
    if ORDER_REF.search(normalize(text)):  # full-width, zero-width look-alikes read alike
        return True  # a named order: the customer asks about that order
    if _HOW_TO.search(folded):
        return False  # "how do I track my order?": the help center answers it
    return bool(_OWN_PROBLEM.search(folded) or (_OWN.search(folded) and _STATE.search(folded)))


def needs_account(intent: str | None, text: str) -> bool:
    """Whether this turn must verify the customer before it is answered.

    Args:
        intent: The router's intent.
        text: The customer's message(s) this turn.
    """
    if intent in ALWAYS_ACCOUNT:
        return True
    return intent in ACCOUNT_INTENTS and asks_about_own_account(text)
