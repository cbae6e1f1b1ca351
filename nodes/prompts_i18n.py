"""Canned replies in the customer's language: Spanish, German, French and Portuguese variants
of the English texts in nodes/prompts.py, and the one function that picks a variant.

Variants keep the English text's placeholders ({business}, {ticket}, {eta}), so callers fill
them the same way. The word a customer types to reach a person (HUMANO, MENSCH, HUMAIN) is
one the router's human-request pattern knows (nodes/intents/patterns.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from graph.base.language import LANGUAGES
from nodes import prompts

VARIANTS: dict[str, dict[str, str]] = {
    prompts.GREETING_REPLY: {
        "es": "¡Hola! 👋 Soy el servicio de atención de {business}. ¿En qué puedo ayudarte?",
        "de": "Hallo! 👋 Hier ist der Kundenservice von {business}. Wie kann ich helfen?",
        "fr": "Bonjour ! 👋 Ici le service client de {business}. Comment puis-je vous aider ?",
        "pt": "Olá! 👋 Aqui é o apoio ao cliente da {business}. Como posso ajudar?",
    },
    prompts.THANKS_REPLY: {
        "es": "¡De nada! ¿Puedo ayudarte con algo más?",
        "de": "Gern geschehen! Kann ich sonst noch helfen?",
        "fr": "Avec plaisir ! Puis-je vous aider pour autre chose ?",
        "pt": "De nada! Posso ajudar em mais alguma coisa?",
    },
    prompts.CLARIFY_OFFER: {
        "es": ("No estoy seguro de haberte entendido. ¿Me das algún detalle más, por ejemplo tu "
               "número de pedido o qué quieres hacer? O responde HUMANO para hablar con una persona."),
        "de": ("Ich bin nicht sicher, ob ich Sie richtig verstanden habe. Können Sie mir etwas mehr "
               "sagen, zum Beispiel Ihre Bestellnummer oder was Sie tun möchten? Oder antworten Sie "
               "MENSCH, um mit einer Person zu sprechen."),
        "fr": ("Je ne suis pas sûr d'avoir compris. Pouvez-vous m'en dire un peu plus, par exemple "
               "votre numéro de commande ou ce que vous souhaitez faire ? Ou répondez HUMAIN pour "
               "parler à une personne."),
        "pt": ("Não tenho a certeza de ter percebido. Pode dizer-me um pouco mais, por exemplo o "
               "número da encomenda ou o que pretende fazer? Ou responda HUMANO para falar com uma "
               "pessoa."),
    },
    prompts.INJECTION_REDIRECT: {
        "es": ("Solo puedo ayudarte con tus pedidos, envíos, devoluciones y nuestros productos. "
               "¿Qué necesitas? O responde HUMANO para hablar con una persona."),
        "de": ("Ich kann nur bei Fragen zu Ihren Bestellungen, Lieferungen, Rücksendungen und "
               "unseren Produkten helfen. Was kann ich für Sie tun? Oder antworten Sie MENSCH, um "
               "mit einer Person zu sprechen."),
        "fr": ("Je peux seulement vous aider pour vos commandes, livraisons, retours et nos "
               "produits. Que puis-je faire pour vous ? Ou répondez HUMAIN pour parler à une personne."),
        "pt": ("Só posso ajudar com as suas encomendas, entregas, devoluções e os nossos produtos. "
               "Em que posso ajudar? Ou responda HUMANO para falar com uma pessoa."),
    },
    prompts.ENGLISH_NOTE: {
        "es": "(Respuesta en inglés)",
        "de": "(Antwort auf Englisch)",
        "fr": "(Réponse en anglais)",
        "pt": "(Resposta em inglês)",
    },
    prompts.COOLDOWN_UNSURE: {
        "es": "No estoy seguro de eso. Si quieres que te ayude una persona, responde 'humano'.",
        "de": "Da bin ich mir nicht sicher. Wenn Ihnen eine Person helfen soll, antworten Sie 'Mensch'.",
        "fr": "Je ne suis pas sûr. Si vous voulez l'aide d'une personne, répondez 'humain'.",
        "pt": "Não tenho a certeza. Se quiser a ajuda de uma pessoa, responda 'humano'.",
    },
    prompts.HANDOFF_ACK: {
        "es": ("He pedido a un compañero que se una a este chat (ticket {ticket}). Te responderá "
               "aquí mismo ({eta}). Lo que envíes mientras tanto le llega directamente."),
        "de": ("Ich habe eine Kollegin oder einen Kollegen zu diesem Chat gebeten (Ticket {ticket}). "
               "Die Antwort kommt hier ({eta}). Was Sie bis dahin senden, geht direkt an sie."),
        "fr": ("J'ai demandé à un collègue de rejoindre cette conversation (ticket {ticket}). Il vous "
               "répondra ici ({eta}). Ce que vous envoyez d'ici là lui parvient directement."),
        "pt": ("Pedi a um colega que se junte a esta conversa (ticket {ticket}). Vai responder aqui "
               "({eta}). O que enviar entretanto chega diretamente a ele."),
    },
    prompts.HANDOFF_COLD: {
        "es": ("Nuestro equipo no está disponible ahora, así que he abierto el ticket {ticket} con "
               "esta conversación. Un compañero te responderá aquí ({eta})."),
        "de": ("Unser Team ist gerade nicht erreichbar, daher habe ich Ticket {ticket} mit diesem "
               "Gespräch eröffnet. Eine Antwort kommt hier ({eta})."),
        "fr": ("Notre équipe n'est pas disponible pour le moment : j'ai ouvert le ticket {ticket} "
               "avec cette conversation. Un collègue vous répondra ici ({eta})."),
        "pt": ("A nossa equipa não está disponível agora, por isso abri o ticket {ticket} com esta "
               "conversa. Um colega vai responder aqui ({eta})."),
    },
}
"""English text (a constant of nodes/prompts.py) -> language -> the same text in that language."""


def reply_language(language: str | None, allowed: Sequence[str]) -> str:
    """The language to answer in: the customer's when the business writes it, else its first.

    Args:
        language: the customer's language as detected (graph/base/language.py), or None.
        allowed: BUSINESS__LANGUAGES; regional codes ("pt-BR") count as their language ("pt").

    Returns:
        A language code; "en" when `allowed` names none of LANGUAGES.
    """
    written = [code.split("-")[0] for code in allowed]
    if language in written:
        return language
    return next((code for code in written if code in LANGUAGES), "en")


def localized(text: str, language: str | None) -> str:
    """`text` (an English constant of nodes/prompts.py) in `language`, or as it is when no
    variant exists (English, or a text not translated)."""
    return VARIANTS.get(text, {}).get(language or "en", text)
