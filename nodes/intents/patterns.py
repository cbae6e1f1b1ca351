"""The router's first pass: whole-message patterns that are right whenever they match.

Small talk (a message that only greets, only thanks, or carries nothing) and an explicit
request for a person, in English, Spanish, German, French and Portuguese. Anything else
goes to the learned model (`nodes/intents/model.py`); these stay few and precise.
"""

from __future__ import annotations

import re
from typing import Literal

from graph.base.pii_patterns import ORDER_REF

SmallTalk = Literal["greeting", "thanks", "noise"]

_I = re.I | re.U
_NOISE = re.compile(r"^[\W_]*(ok(ay)?|k|kk|yes|no|lol|hm+|\?+|\.+)?[\W_]*$", _I)
_GREETING = re.compile(
    r"^\W*(hi+|hello+|hey+|hiya|yo|howdy|greetings|(good )?(morning|afternoon|evening)|good day|"
    r"hola|buen(os|as) (d[ií]as|tardes|noches)|buenas|hallo|guten (morgen|tag|abend)|moin|"
    r"servus|bonjour|bonsoir|salut|coucou|ciao|ol[aá]|oi|bom dia|boa (tarde|noite))"
    r"(\W+(there|team|all|again|everyone|guys|à tous))?"
    # A pleasantry after the greeting is still only a greeting.
    r"(\W+(how are you( doing)?|how's it going|hope you('re| are) (well|good|ok)|what's up|"
    r"qu[eé] tal|c[oó]mo est[aá]s?|wie geht('s| es)?|[çc]a va|tudo bem|como est[aá]s?))?\W*$", _I)
_PRESENCE = re.compile(
    # "Still there?": the customer checks someone is listening; a greeting answers it.
    r"^\W*((hello|hi|hey|hola|hallo|bonjour|ol[aá]|oi)\W+)?"
    r"((are )?you still there|(are )?you there|still there|anyone there|is anyone there|hello\?+|¿?(sigues|est[aá]s) ah[ií]|bist du (noch )?da|sind sie (noch )?da|"
    r"(vous [eê]tes|tu es) (toujours )?l[aà]|(ainda )?est[aá] a[ií]|(ainda )?estás a[ií])\W*$", _I)
_THANKS = re.compile(
    r"^\W*((great|perfect|ok(ay)?|super|lovely|brilliant|awesome|perfecto|parfait|perfeito),? )?"
    r"(thanks?( you)?( so much| a lot| very much| kindly)?( for (your|the|all the) help)?|thank u|"
    r"thx|ty|tysm|cheers|many thanks|much appreciated|appreciate it|"
    r"(muchas |mil )?gracias|(vielen )?danke?( sch[oö]n)?|merci( beaucoup| bien)?|"
    r"(muito )?obrigad[oa]|valeu)"
    r"( por (la|tu|su) ayuda| f[uü]r (die|ihre|deine) hilfe| pour (votre|ton) aide| pela ajuda)?\W*$", _I)
_PERSON = (r"(someone|somebody|anyone|anybody|a person|a human|an? (live |real |human )?agent|"
           r"an? (employee|colleague|advisor|adviser|representative|operator|manager|supervisor)|"
           r"(a|the) (member of|colleague)|your (support |service |customer service )?(team|staff)|"
           r"your (supervisor|manager)|(the |your )?support (team|staff|desk|line)|"
           r"customer (service|support|care))")
_HUMAN = re.compile(
    # Words that name a person on our side whatever the sentence.
    r"\b(humans?|human being|real (person|human)|live (person|agent|chat)|actual (person|human)|"
    r"someone real|somebody real|representative|operator|humano|humain|atendente|mensch(en)?)\b"
    r"|^\W*(agent|human|person|operator)( please| pls| now)?\W*$"
    # English: asking to speak with, be put through to or be called by a person.
    rf"|\b(speak|talk|chat|connect me|put me through|hand me over|get me|give me|"
    rf"(transfer|pass|escalate) (me|this|it|my case))\b"
    rf"[^.?!]{{0,20}}\b{_PERSON}"
    rf"|\b(contact|reach|get hold of|get in touch with|ring|call)\b[^.?!]{{0,20}}\b{_PERSON}"
    r"|\b(who|how) (can|do|should) (i|we) (call|phone|ring)\b"
    r"|\b(contact|reach|call) you (by|on|via|over) (the )?(tele)?phone\b"
    r"|\bcall me( back)?\b|\b(need|want|like|request|get|arrange|book|schedule) a call ?back\b|\b(phone )?number (i|we) can (call|ring)\b"
    r"|\b(phone|telephone) number\b[^.?!]{0,20}\b(customer (service|support)|support|you)\b"
    # Spanish, Portuguese, German, French.
    r"|\b(hablar|comunicarme|p[aá]same|pasarme|ponerme) con (un|una|alguien|el|la|algún|atenci[oó]n)"
    r"|\b(persona real|ll[aá]m[ae]nme)\b"
    r"|\b(falar|conversar) com (um|uma|algu[eé]m|o|a)\b|\bliguem(-me)?\b|\bpassa para um\b"
    r"|\b(mit )?(einem |einer )?(mitarbeiter(in)?|ansprechpartner|berater(in)?|menschen) "
    r"(sprechen|reden)|\bverbinden sie mich\b|\brufen sie mich\b|\bechten ansprechpartner\b"
    r"|\bparler (à|a|avec) (un|une|quelqu'un)\b|\bpassez-moi\b|\b(être|etre) rappel[eé]e?\b"
    r"|\bvraie personne\b", _I)
_HUMAN_NOT = re.compile(r"\bhuman resources\b|\bnot (a|an) (human|bot)\b", _I)


def small_talk(text: str) -> SmallTalk | None:
    """The kind of a message that is only small talk, or None."""
    if _NOISE.match(text):
        return "noise"
    if _GREETING.match(text) or _PRESENCE.match(text):
        return "greeting"
    if _THANKS.match(text):
        return "thanks"
    return None


def asks_for_human(text: str) -> bool:
    """True when the customer plainly asks for a person."""
    return bool(_HUMAN.search(text)) and not _HUMAN_NOT.search(text)


def only_order_reference(text: str) -> bool:
    """True for a message that is an order number and nothing more ("HP-10002?")."""
    return bool(ORDER_REF.search(text)) and not re.sub(r"[\W_]+", "", ORDER_REF.sub("", text))


def mentions_order(text: str) -> bool:
    """True when the text carries an order number (HP-12345)."""
    return bool(ORDER_REF.search(text))
