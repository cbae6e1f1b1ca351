"""Extractive answering for the offline brain: the section that answers a question, then the
sentences in it that do, with their facts (prices, times, amounts) kept whole.

A section is chosen on its heading and its body together, so a general question gets the
general policy and a section about one case (a country, sale items, furniture) wins only when
the question names that case. Sentences are never cut: a price or a time stays in its sentence.
"""

from __future__ import annotations

import re
import unicodedata

_STOP = set(["a", "an", "the", "and", "or", "but", "if", "to", "of", "in", "on", "at", "for", "from", "by", "with", "about", "as", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "doing", "have", "has", "had", "i", "me", "my", "we", "our", "you", "your", "it", "its", "this", "that", "these", "those", "what", "which", "who", "whom", "when", "where", "why", "how", "can", "could", "would", "should", "will", "shall", "may", "might", "must", "not", "no", "yes", "so", "than", "too", "very", "just", "get", "got", "im", "i'm", "ive", "i've", "hi", "hello", "please", "thanks", "thank", "there", "here", "any", "some", "all", "am", "up", "out", "over", "into", "also", "only", "still", "much", "many", "more", "most", "one"])
_QUESTION_ONLY = {"something", "anything", "us", "need", "want", "know", "tell"}
"""Words that carry no topic in a question ("I need to know something") but are indexed."""
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9£€$\"“(])|\n+")
_MARKUP = re.compile(r"\*\*|__|`|^\s*(?:[-*]|\d+\.)\s+", re.M)
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_WORD = re.compile(r"[^\W_]+|[£€$%]")

_MONEY = r"(?:[£€$]\s?\d[\d,]*(?:\.\d+)?|\d[\d,]*(?:\.\d+)?\s?(?:€|£|\$|eur\b|euros?\b|gbp\b|pounds?\b))"
_TIME = (r"(?:\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s?(?:am|pm)\b|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b"
         r"|\b\d+(?:\s?-\s?\d+)?\s+(?:working\s+|business\s+)?(?:minutes?|hours?|days?|weeks?|months?|years?)\b)")
_AMOUNT = r"(?:\b\d+(?:[.,]\d+)?\s?%|\b\d+(?:[.,]\d+)?\b)"
FACT_PATTERNS = {"money": re.compile(_MONEY, re.I), "time": re.compile(_TIME, re.I),
                 "amount": re.compile(_AMOUNT, re.I)}
"""Kinds of fact an answer must keep: prices with their currency, times and durations, numbers."""
_ASKS = {
    "money": re.compile(r"\b(?:how much|cost|costs|price|prices|fee|fees|charge|charged|pay|"
                        r"expensive|cheap|free)\b|[£€$]", re.I),
    "time": re.compile(r"\b(?:how long|how soon|how quickly|when|what time|hours|open|opening|"
                       r"until|deadline|days?|valid|expire|expiry|take|slots?|window)\b", re.I),
    "amount": re.compile(r"\b(?:how many|how much|number|limit|maximum|minimum|percent|%)\b", re.I),
}
"""What kind of fact a question asks for ("how much" -> a price, "how long" -> a duration)."""


def _plain(text: str) -> str:
    """Links as their text, emphasis and list markers dropped."""
    return _MARKUP.sub("", _LINK.sub(r"\1", text))


def sentences(text: str) -> list[str]:
    """Plain sentences of a Markdown passage: list items and lines count as sentences."""
    return [s.strip() for s in _SENTENCE.split(_plain(text)) if len(s.strip()) > 2]


STEM_LENGTH = 7
"""Stems are cut to this many letters: accessible and accessibility meet at "accessi"."""


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    # arrive, arrives, arrived -> arriv; make, making -> mak
    word = word[:-1] if word.endswith("e") and len(word) > 3 else word
    return word[:STEM_LENGTH]


def words(text: str) -> list[str]:
    """Lower-cased words, accents and ligatures folded (PDF text: "ﬁnal", "Chêne"), currency
    and percent signs as words of their own."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c)).replace("'", "")
    return _WORD.findall(folded)


def terms(text: str) -> set[str]:
    """Content words, lower-cased and crudely stemmed."""
    return {_stem(w) for w in words(text) if w not in _STOP and w not in _QUESTION_ONLY}


def facts(text: str) -> list[str]:
    """The prices, times, durations and numbers in a text, as written."""
    return [m.group(0) for pattern in FACT_PATTERNS.values() for m in pattern.finditer(text)]


def asked_facts(question: str) -> set[str]:
    """The kinds of fact a question asks for: "money", "time", "amount"."""
    return {kind for kind, pattern in _ASKS.items() if pattern.search(question)}


def _names(heading: str) -> set[str]:
    """Capitalised words inside a heading, not its first: "Delivery to Ireland" -> ireland."""
    return {_stem(m.lower()) for m in re.findall(r"(?<=\s)[A-Z][a-z]+", heading)}


def section_score(wanted: set[str], asked: set[str], passage: dict, rank: int) -> float:
    """How well a passage's section answers: question words in its heading count most, in its
    body next, and the kind of fact asked for (a price, a time) in its body helps. Heading words
    the question does not use mark a special case and cost a little, a name (a country: the
    heading's capitalised words after the first) much more; a page's introduction, a summary,
    yields to its sections; retrieval's order breaks ties."""
    heading = terms(f"{passage['title']} {passage['section']}")
    body = terms(passage["text"])
    score = 1.5 * len(wanted & heading) + len(wanted & body - heading) - 0.3 * rank
    score -= 0.25 * len(terms(passage["section"]) - wanted - terms(passage["title"]))
    if passage["section"] != passage["title"]:  # the title is the brand's and the page's
        score -= 1.0 * len(_names(passage["section"]) - wanted)
    score += 0.5 * sum(1 for kind in asked if FACT_PATTERNS[kind].search(passage["text"]))
    if "#" not in str(passage.get("id", "#")):
        score -= 0.5
    return score


def sentence_score(wanted: set[str], asked: set[str], sentence: str) -> float:
    """Question words in the sentence, plus a bonus when it holds the kind of fact asked for."""
    score = float(len(wanted & terms(sentence)))
    for kind in asked:
        if FACT_PATTERNS[kind].search(sentence):
            score += 1.0
    return score


def best_answer(question: str, passages: list[dict], min_overlap: int = 2,
                max_sentences: int = 4, max_chars: int = 500) -> tuple[str, list[str]] | None:
    """The sentences of the best section that answer the question, and that section's id; None
    when no section shares enough words with the question (min_overlap, or every word of a
    shorter question).

    Sentences come whole and in reading order: the best one, then those nearly as relevant
    and those that hold a fact (price, time, amount), up to `max_sentences` and `max_chars`.
    """
    wanted = terms(question)
    if not wanted or not passages:
        return None
    asked = asked_facts(question)
    ranked = sorted(enumerate(passages), key=lambda rp: -section_score(wanted, asked, rp[1], rp[0]))
    needed = min(min_overlap, len(wanted))
    for _, passage in ranked[:2]:  # the best section, else the runner-up if it has an answer
        heading = terms(f"{passage['title']} {passage['section']}")
        lines = sentences(passage["text"])
        # A section whose heading the question names states its rule first: "You have 30 days".
        lead = 0.5 if wanted & heading else 0.0
        scored = [(sentence_score(wanted, asked, s) + (lead if i == 0 else 0.0), i, s)
                  for i, s in enumerate(lines)]
        useful = [s for s in scored if s[0] > 0]
        if not useful:
            continue
        top = max(useful, key=lambda s: (s[0], -s[1]))
        chosen = [top]
        # Then the sentences nearly as relevant, and those holding a fact (a price, a time):
        # in a help center's section the facts are usually the answer.
        for candidate in sorted(scored, key=lambda s: (-s[0], s[1])):
            if len(chosen) >= max_sentences:
                break
            if candidate is top or (candidate[0] < top[0] / 2 and not facts(candidate[2])):
                continue
            if sum(len(c[2]) for c in chosen) + len(candidate[2]) > max_chars:
                continue
            chosen.append(candidate)
        if len(wanted & heading.union(*(terms(c[2]) for c in chosen))) < needed:
            continue  # too little of the question in this section to call it an answer
        chosen.sort(key=lambda s: s[1])
        return " ".join(s[2] for s in chosen), [passage["id"]]
    return None


# Public names for the knowledge base's BM25, so retrieval and answering agree on what a word is.
STOP_WORDS = frozenset(_STOP)
stem = _stem
