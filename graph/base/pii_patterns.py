"""The patterns behind `graph.base.pii`: what personal data and secrets look like in a chat message,
and the checks (Luhn, IBAN mod 97, digit counts) that tell a card or phone from other numbers.

Each pattern runs on normalised text (see `pii.normalize`). Where a pattern has a group named
`v` (or `w`, `x` in other branches), only that group is replaced (the words around it, "my
password is", stay readable).
Horizontal whitespace only (`_S`): a pattern never joins two lines, so a log traceback's
"line 213\\n  File ..." is not an address.
"""

from __future__ import annotations

import re

_I = re.I
_S = r"[^\S\n]"  # whitespace other than a line break

# Provider formats: recognised anywhere, no context needed. Case matters for most of them.
API_KEY = re.compile(
    r"\b(?:sk|rk|pk)[-_](?:(?:live|test|proj|ant|admin|svcacct)[-_])?[A-Za-z0-9_-]{12,}"
    r"|\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}\b"
    r"|\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[\w-]{20,})"
    r"|\bxox[abposre]-[A-Za-z0-9-]{10,}|hooks\.slack\.com/services/[\w/]+"
    r"|\bAIza[\w-]{30,}|\b(?:whsec|npm|shpat|shpss)_[A-Za-z0-9]{16,}|\bSK[0-9a-f]{32}\b"
    r"|\beyJ[\w-]{6,}\.[\w-]{6,}\.[\w-]{6,}"  # a JWT: base64url header.payload.signature
    r"|\bya29\.[\w-]{20,}|\bSG\.[\w-]{16,}\.[\w-]{16,}|\bkey-[0-9a-f]{32}\b|\b\d{8,10}:AA[\w-]{33}\b"
    r"|(?i:\b(?:bearer|token)[^\S\n]+)(?=[\w.~+/=-]*\d)[\w.~+/=-]{12,}"
    r"|(?i:\bbasic[^\S\n]+)(?=[A-Za-z0-9+/]*\d)[A-Za-z0-9+/]{16,}={0,2}")
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.|\n)*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)")
URL_CREDENTIALS = re.compile(r"(?<=://)(?P<v>[^\s/:@]+:[^\s/@]+)(?=@)")

# "password: x", "my pw is x", "api_key=x": the value after a word that announces a secret.
_SECRET_WORD = (r"pass(?:word|wd|code|phrase|[^\S\n]word)?|pwd|pw|contraseña|passwort|kennwort|senha"
                r"|mot[^\S\n]de[^\S\n]passe|wachtwoord|pin(?:[^\S\n]?(?:code|number))?|otp"
                r"|one[- ]time[^\S\n](?:code|password|pin)|(?:verification|login|2fa|auth(?:entication)?|"
                r"sms|access)[^\S\n]code|memorable[^\S\n]word|security[^\S\n](?:answer|question[^\S\n]answer)"
                r"|(?:api|secret|access|private|client)[_ -]?(?:key|secret|token)(?:[_ -]?id)?"
                r"|(?:auth|refresh|bearer)[_ -]?token|credentials?|login[^\S\n]details")
SECRET_VALUE = re.compile(
    rf"\b(?:{_SECRET_WORD})\b(?P<sep>{_S}*(?:[:=]|->|=>){_S}*|{_S}+(?:is|was|are|were)(?:{_S}+now)?{_S}*[:=]?{_S}*)"
    r"(?P<v>\"[^\"\n]{1,80}\"|'[^'\n]{1,80}'|\S{1,80})", _I)
_DESCRIBING = """not wrong expired incorrect invalid broken working locked reset changed correct right
    same too very still being the a an my your it this that what blank empty missing forgotten
    lost gone fine ok okay there here required needed below above different unknown stolen
    compromised weak strong long short please"""
NOT_A_SECRET = frozenset(_DESCRIBING.split())
BARE_PASSWORD = re.compile(rf"\b(?:password|passwd|pwd|pw|passcode|pin){_S}+(?P<v>(?=\S*[\d!@#$%^&*])\S{{4,80}})", _I)
"""A password given with no "is" or colon, where the value holds a digit or symbol: "pw hunter2!"."""
"""Words after "my password is ..." that describe it rather than give it."""

CVV = re.compile(
    rf"\b(?:cvv2?|cvc2?|cvn|csc|cid|card{_S}(?:security|verification){_S}(?:code|value|number)"
    rf"|security{_S}(?:code|number|digits)|(?:3|4|three|four)[- ]digits?(?:{_S}(?:security{_S})?code)?"
    rf"(?:{_S}(?:on|at){_S}the{_S}back(?:{_S}of{_S}(?:the|my){_S}card)?)?)"
    rf"{_S}*(?:is|are|was|=|:|-|#|no\.?|number)?{_S}*(?P<v>\d{{3,4}})\b", _I)

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){0,4}\.[a-z]{2,24}\b", _I)
_TLD = r"(?:com|net|org|info|biz|email|mail|online|shop|store|io|app|dev|edu|gov|[a-z]{2})"
_MAILBOX = r"(?:gmail|googlemail|hotmail|outlook|yahoo|ymail|icloud|aol|proton(?:mail)?|gmx|msn)"
MAILBOX_EMAIL = re.compile(
    rf"(?<![\w.+-])[\w.+-]{{1,64}}(?:{_S}*@{_S}*|{_S}*[(\[{{<]{_S}*at{_S}*[)\]}}>]{_S}*|{_S}+at{_S}+){_MAILBOX}\b", _I)
"""An address at a big mail provider with the domain's ending left off: "liam@gmail"."""
SPACED_EMAIL = re.compile(
    rf"(?<![\w.+-])[\w.+-]{{1,64}}{_S}*@{_S}*[\w-]{{1,63}}(?:{_S}*\.{_S}*[\w-]{{1,63}}){{0,4}}{_S}*\.{_S}*{_TLD}\b", _I)
_AT = rf"(?:{_S}*[(\[{{<]{_S}*at{_S}*[)\]}}>]{_S}*|{_S}+at{_S}+)"
_DOT = rf"(?:\.|{_S}*[(\[{{<]{_S}*dot{_S}*[)\]}}>]{_S}*|{_S}+dot{_S}+)"
SPELLED_EMAIL = re.compile(
    rf"(?<![\w.+-])[\w.+-]{{1,64}}(?:{_DOT}[\w+-]{{1,64}}){{0,3}}{_AT}[\w-]{{1,63}}(?:{_DOT}[\w-]{{1,63}}){{0,4}}"
    rf"{_DOT}{_TLD}\b", _I)
"""Spelled-out e-mail addresses: liam at x dot com, liam dot o at x dot com, liam [at] x [dot]
com, liam(at)x.com."""

IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]){11,34}\b", _I)
IBAN_CONTEXT = re.compile(
    rf"\bIBAN{_S}*(?:is|:|no\.?|number)?{_S}*(?P<v>[A-Z]{{2}}\d{{2}}[A-Z0-9]{{0,30}}(?:[ -][A-Z0-9]{{1,4}}\b){{0,8}})", _I)
"""Anything shaped like an IBAN after the word IBAN, checksum or not."""
BANK = re.compile(
    rf"\bsort{_S}?code{_S}*(?:is|:)?{_S}*(?P<v>\d{{2}}[ -]?\d{{2}}[ -]?\d{{2}})\b"
    rf"|\b(?:bank{_S})?(?:account|acct|a/c)(?:{_S}(?:number|no\.?|#))?{_S}*(?:is|:)?{_S}*(?P<w>\d{{6,12}})\b", _I)

CARD_DIGITS = re.compile(r"(?<!\w)\d(?:[\s\-./_·•–—]{0,3}\d){12,}(?!\w)")
CARD_TAIL = re.compile(
    rf"(?<=\[card\])[,;]?{_S}*(?P<v>(?:(?:exp(?:iry|ires|iration)?\.?|valid{_S}(?:thru|until)|ed){_S}*[:\-]?{_S}*)?"
    rf"\d{{1,2}}{_S}*/{_S}*\d{{2,4}}(?:[,;]?{_S}*(?:cvv|cvc|code)?{_S}*[:\-]?{_S}*\d{{3,4}}\b)?)", _I)

UK_NI = re.compile(rf"(?-i:\b[A-Z]{{2}}(?:[ -]?\d{{2}}){{3}}[ -]?[A-D]\b)|\b(?:NI|NINO|national{_S}insurance)"
                   rf"(?:{_S}(?:number|no\.?))?{_S}*(?:is|:)?{_S}*(?P<v>[A-Z]{{2}}(?:[ -]?\d{{2}}){{3}}[ -]?[A-D])\b", _I)
US_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}(?P<s>[- ])(?!00)\d{2}(?P=s)(?!0000)\d{4}\b"
                    rf"|\b(?:ssn|social{_S}security(?:{_S}(?:number|no\.?))?)[:#]?{_S}*(?:is{_S}*)?(?P<v>\d{{3}}[- ]?\d{{2}}[- ]?\d{{4}})\b", _I)

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DATE = (rf"(?:\d{{1,2}}[./\- ]\d{{1,2}}[./\- ]\d{{2,4}}|\d{{4}}[./\-]\d{{1,2}}[./\-]\d{{1,2}}"
         rf"|\d{{1,2}}(?:st|nd|rd|th)?{_S}+(?:of{_S}+)?{_MONTH}\.?,?{_S}+\d{{2,4}}"
         rf"|{_MONTH}\.?{_S}+\d{{1,2}}(?:st|nd|rd|th)?,?{_S}+\d{{2,4}})")
_DAY_MONTH = (rf"(?:\d{{1,2}}(?:st|nd|rd|th)?{_S}+(?:of{_S}+)?{_MONTH}\b\.?|{_MONTH}\.?{_S}+\d{{1,2}}(?:st|nd|rd|th)?\b"
              rf"|\d{{1,2}}[./-]\d{{1,2}}\b)")
DOB = re.compile(rf"\b(?:date{_S}of{_S}birth|birth{_S}?date|d\.?o\.?b\.?|born|birthday)"
                 rf"{_S}*(?:is|was|:|-|=)?{_S}*(?:on{_S}+)?(?:the{_S}+)?(?P<v>{_DATE}|{_DAY_MONTH})(?!\d)", _I)
OLD_DATE = re.compile(
    r"(?<![\d/.-])(?:\d{1,2}[./-]\d{1,2}[./-](?:19\d\d|200\d)|(?:19\d\d|200\d)-\d{1,2}-\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?{_S}+(?:of{_S}+)?{_MONTH}\.?,?{_S}+(?:19\d\d|200\d)"
    rf"|{_MONTH}\.?{_S}+\d{{1,2}}(?:st|nd|rd|th)?,?{_S}+(?:19\d\d|200\d))(?![\d/.-])", _I)
"""A full date before 2010: in a support chat about recent orders, almost always a birth date."""

COORDINATES = re.compile(r"(?<![\d.])-?\d{1,2}\.\d{3,}\s*,\s*-?\d{1,3}\.\d{3,}(?![\d.])")

PHONE_CONTEXT = re.compile(
    rf"\b(?:call|phone|mobile|cell|tel(?:ephone)?|whatsapp|ring|text|reach|contact)(?:{_S}+me)?"
    rf"(?:{_S}+(?:on|at|number))?{_S}*(?:is|:)?{_S}*(?P<v>\+?\(?\d[\d \-.()]{{5,18}}\d)(?!\w)"
    rf"|\bmy{_S}+(?:phone{_S}+|mobile{_S}+|cell{_S}+|home{_S}+|work{_S}+)?number{_S}*(?:is|:)?{_S}*"
    rf"(?P<w>\+?\(?\d[\d \-.()]{{5,18}}\d)(?!\w)", _I)
PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d \t.\-()]{6,22}\d(?!\w)")
DATE_LIKE = re.compile(r"\d{4}[-.]\d{1,2}[-.]\d{1,2}|\b\d{1,2}[-.]\d{1,2}[-.]\d{2,4}\b|\d{1,2}\.\d{2}\s*-")

_STOP = (r"(?:the|a|an|on|in|of|to|for|and|or|my|your|our|their|down|up|along|across|off|from|at|by"
         r"|with|into|onto|over|via|miles?|km|days?|hours?|minutes?|weeks?|months?|years?|times?"
         r"|items?|pieces?|boxes?|chairs?|x|is|are|was|it|that|this|more|other|every|each)\b")
_WORD = rf"(?!{_STOP})(?:\d{{1,3}}(?:st|nd|rd|th)|[a-z][\w'’.-]*){_S}+"
_CAP_WORD = rf"(?-i:(?:The{_S}+)?[A-Z][\w'’.-]*){_S}+"
_STRONG = (r"street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|crescent|cres|terrace|tce"
           r"|parkway|pkwy|highway|hwy|close")
_WEAK = (r"way|place|pl|court|ct|square|sq|gardens|gdns|grove|hill|park|walk|row|mews|circle|cir"
         r"|trail|wharf|yard|green|rise|vale|view|embankment|parade|broadway|quay")
_UNIT = rf"(?:(?:flat|apt\.?|apartment|unit|suite|ste\.?){_S}*\w{{1,5}},?{_S}+)?"
STREET = re.compile(
    rf"\b{_UNIT}\d{{1,5}}[a-z]?,?{_S}+(?:(?:(?-i:The{_S}+)(?:{_WORD}){{0,3}}|(?:{_WORD}){{1,4}})(?:{_STRONG})"
    rf"|(?:{_CAP_WORD}){{1,4}}(?-i:(?:{_WEAK}|{_WEAK.title()}|{_WEAK.upper()})))\b\.?"
    rf"(?:{_S}+(?-i:N|S|E|W|NE|NW|SE|SW)\b)?|\bP\.?{_S}?O\.?{_S}+Box{_S}+\d+", _I)
UK_POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)[^\S\n]*\d[A-Z]{2}\b", _I)
_US_STATES = ("AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV"
              "|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY")
US_ZIP = re.compile(
    rf"(?-i:\b(?:{_US_STATES})){_S}+(?P<v>\d{{5}}(?:-\d{{4}})?)\b"
    rf"|\b(?:zip|postal{_S}code|post{_S}?code)(?:{_S}?code)?{_S}*(?:is|:)?{_S}*(?P<w>\d{{5}}(?:-\d{{4}})?)\b"
    rf"|(?<=\[address\])(?:[,.]?{_S}*[A-Za-z][\w .'-]{{0,40}}?)??[,.]?{_S}*(?P<x>\d{{5}}(?:-\d{{4}})?)\b", _I)
"""US zip codes, only where they read as part of an address: after a state, "zip", or [address]."""

SHARED_LOCATION = re.compile(r"^(?:\[edited\] )?\[location\][^\n]*", re.M)
SHARED_CONTACTS = re.compile(r"^(?:\[edited\] )?\[contacts\][^\n]*", re.M)
"""A shared location or contact card as the channels render it ("[location] Name, Address
(lat, lon)", "[contacts] Sam Shah"): personal data whole, a house name or a friend's name
included, so only "[location]" or "[contacts]" is kept."""

ORDER_REF = re.compile(r"\bHP-?\s?\d{5}\b", _I)
"""Order numbers: never personal data, shielded from every pattern above."""


def luhn_ok(digits: str) -> bool:
    """Whether a digit string passes the Luhn check, so only plausible card numbers are redacted."""
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """ISO 13616 check digits: the rearranged number mod 97 is 1."""
    compact = re.sub(r"[\s-]", "", text).upper()
    if not (15 <= len(compact) <= 34 and compact[:2].isalpha() and compact[2:4].isdigit()):
        return False
    return int("".join(str(int(ch, 36)) for ch in compact[4:] + compact[:4])) % 97 == 1


def card_groups(match: re.Match) -> str:
    """Mask each card inside a run of digit groups: from left to right, the longest run of whole
    groups with a card's length (13-19), first digit (2-6) and a valid Luhn checksum."""
    text = match.group()
    groups = [(g.start(), g.end(), g.group()) for g in re.finditer(r"\d+", text)]
    masked, done, i = [], 0, 0
    while i < len(groups):
        ends, digits = [], ""
        for j in range(i, len(groups)):
            digits += groups[j][2]
            if len(digits) > 19:
                break
            ends.append((j, digits))
        card = next((j for j, d in reversed(ends)
                     if len(d) >= 13 and d[0] in "23456" and luhn_ok(d)), None)
        if card is None:
            i += 1
            continue
        masked += [text[done:groups[i][0]], "[card]"]
        done, i = groups[card][1], card + 1
    return "".join(masked) + text[done:]


def iban_run(match: re.Match) -> str:
    """The longest prefix of the run (in whole chunks) that is a valid IBAN, masked."""
    text = match.group()
    chunks = list(re.finditer(r"[A-Za-z0-9]+", text))
    for end in range(len(chunks), 0, -1):
        if iban_ok(text[:chunks[end - 1].end()]):
            return "[iban]" + text[chunks[end - 1].end():]
    return text


def phone(match: re.Match) -> str:
    """Redaction of a phone-number match; too short or long, date-like or a list of order
    numbers stays as it is."""
    text = match.group()
    digits = re.sub(r"\D", "", text)
    groups = re.findall(r"\d+", text)
    international = text.startswith(("+", "00"))
    if not (8 if international else 10) <= len(digits) <= 15 or DATE_LIKE.search(text):
        return text
    if len(groups) > 1 and all(len(g) == 5 for g in groups) and not international:
        return text  # a list of five-digit order numbers, not a phone number
    return "[phone]"


def password(match: re.Match) -> str | None:
    """Redaction of a password the customer gave, or None when the words only talk about one."""
    value = match.group("v").strip("\"'").rstrip(".,!?;")
    described = re.search(r"\b(?:is|was|are|were)\b", match.group("sep"))
    if described and (value.casefold() in NOT_A_SECRET or value.startswith("[")):
        return None  # "my password is wrong" describes it; it does not give it
    return "[secret]" if value else None
