"""Canned replies in the customer's language: Spanish, German, French and Portuguese variants
of the English texts in nodes/prompts.py, and the one function that picks a variant.

Variants keep the English text's placeholders ({business}, {ticket}, {eta}), so callers fill
them the same way. The word a customer types to reach a person (HUMANO, MENSCH, HUMAIN) is
one the router's human-request pattern knows (nodes/intents/patterns.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from graph.base.language import LANGUAGES
from graph.base.tool_results import ORDER_STATUSES
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
    prompts.HUMAN_BUTTON: {  # at most 20 characters: a WhatsApp reply button's title
        "es": "Hablar con un humano",
        "de": "Mit Mensch sprechen",
        "fr": "Parler à un humain",
        "pt": "Falar com um humano",
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
    prompts.CSAT_THANKS: {
        "es": "¡Gracias por tu valoración! 🙏",
        "de": "Vielen Dank für Ihre Bewertung! 🙏",
        "fr": "Merci pour votre note ! 🙏",
        "pt": "Obrigado pela sua avaliação! 🙏",
    },
    prompts.CSAT_PROMPT: {
        "es": ("¡Gracias por escribirnos! ¿Qué tal lo hicimos? Responde con un número del 1 (mal) "
               "al 5 (genial)."),
        "de": ("Danke für Ihre Nachricht! Wie waren wir? Antworten Sie mit einer Zahl von "
               "1 (schlecht) bis 5 (sehr gut)."),
        "fr": ("Merci de nous avoir écrit ! Comment était notre service ? Répondez par un chiffre "
               "de 1 (mauvais) à 5 (excellent)."),
        "pt": ("Obrigado por falar connosco! Como correu? Responda com um número de 1 (mau) a "
               "5 (ótimo)."),
    },
    prompts.RATE_LIMIT_REPLY: {
        "es": ("Me estás enviando mensajes más rápido de lo que puedo leerlos. Dame un momento y "
               "vuelve a intentarlo."),
        "de": ("Sie senden Nachrichten schneller, als ich sie lesen kann. Einen Moment bitte, dann "
               "versuchen Sie es noch einmal."),
        "fr": ("Vous envoyez des messages plus vite que je ne peux les lire. Laissez-moi un instant "
               "et réessayez."),
        "pt": ("Está a enviar mensagens mais depressa do que consigo lê-las. Dê-me um momento e "
               "tente de novo."),
    },
    prompts.VERIFY_ASK: {
        "es": ("Antes de consultar tu cuenta, necesito comprobar que eres tú. Envíame tu número de "
               "pedido (como HP-10001) con los 4 últimos caracteres de tu código postal, o el "
               "correo electrónico del pedido."),
        "de": ("Bevor ich Ihr Konto ansehe, muss ich prüfen, dass Sie es sind. Bitte senden Sie "
               "Ihre Bestellnummer (z. B. HP-10001) mit den letzten 4 Zeichen Ihrer Postleitzahl "
               "oder der E-Mail-Adresse der Bestellung."),
        "fr": ("Avant de consulter votre compte, je dois vérifier que c'est bien vous. Envoyez votre "
               "numéro de commande (comme HP-10001) avec les 4 derniers caractères de votre code "
               "postal, ou l'adresse e-mail de la commande."),
        "pt": ("Antes de ver a sua conta, preciso de confirmar que é você. Envie o número da "
               "encomenda (como HP-10001) com os últimos 4 caracteres do código postal, ou o email "
               "da encomenda."),
    },
    prompts.VERIFY_RETRY: {
        "es": ("Eso no coincide con nuestros datos (te quedan {left} intentos). Revisa el número de "
               "pedido y el código postal o el correo."),
        "de": ("Das passt nicht zu unseren Daten (noch {left} Versuche). Bitte prüfen Sie die "
               "Bestellnummer und die Postleitzahl oder E-Mail."),
        "fr": ("Cela ne correspond pas à nos informations ({left} essais restants). Vérifiez le "
               "numéro de commande et le code postal ou l'e-mail."),
        "pt": ("Isso não corresponde aos nossos registos ({left} tentativas restantes). Verifique o "
               "número da encomenda e o código postal ou email."),
    },
    prompts.VERIFY_LOCKED: {
        "es": "Por tu seguridad, he pausado las comprobaciones de identidad durante {minutes} minutos.",
        "de": "Zu Ihrer Sicherheit habe ich die Identitätsprüfung für {minutes} Minuten pausiert.",
        "fr": "Pour votre sécurité, j'ai suspendu les vérifications d'identité pendant {minutes} minutes.",
        "pt": "Para sua segurança, suspendi as verificações de identidade durante {minutes} minutos.",
    },
    prompts.VERIFY_ONE: {
        "es": ("Por tu seguridad, solo puedo comprobar una cosa a la vez. Envía un número de pedido "
               "con una prueba: los 4 últimos caracteres de su código postal o el correo "
               "electrónico del pedido."),
        "de": ("Zu Ihrer Sicherheit kann ich nur eine Sache auf einmal prüfen. Bitte senden Sie eine "
               "Bestellnummer mit einem Nachweis: den letzten 4 Zeichen der Postleitzahl oder der "
               "E-Mail-Adresse der Bestellung."),
        "fr": ("Pour votre sécurité, je ne peux vérifier qu'une chose à la fois. Envoyez un numéro "
               "de commande avec une preuve : les 4 derniers caractères de son code postal ou "
               "l'adresse e-mail de la commande."),
        "pt": ("Para sua segurança, só posso verificar uma coisa de cada vez. Envie um número de "
               "encomenda com uma prova: os últimos 4 caracteres do código postal ou o email da "
               "encomenda."),
    },
    prompts.VERIFY_PAUSED: {
        "es": ("Ahora mismo no puedo comprobar identidades por número de pedido. Si necesitas ayuda "
               "con un pedido, escribe \"humano\" y un compañero se hará cargo de este chat."),
        "de": ("Ich kann Identitäten gerade nicht per Bestellnummer prüfen. Wenn Sie Hilfe zu einer "
               "Bestellung brauchen, schreiben Sie \"Mensch\" und jemand aus dem Team übernimmt "
               "diesen Chat."),
        "fr": ("Je ne peux pas vérifier les identités par numéro de commande pour le moment. Si vous "
               "avez besoin d'aide pour une commande, écrivez \"humain\" et un collègue prendra le "
               "relais."),
        "pt": ("Neste momento não consigo verificar identidades pelo número da encomenda. Se "
               "precisar de ajuda com uma encomenda, escreva \"humano\" e um colega assume esta "
               "conversa."),
    },
    prompts.VERIFY_OK: {
        "es": "Gracias, {name}: ya te he verificado.",
        "de": "Danke, {name}, Sie sind verifiziert.",
        "fr": "Merci {name}, votre identité est vérifiée.",
        "pt": "Obrigado, {name}, a sua identidade está verificada.",
    },
    prompts.SAFE_FALLBACK: {
        "es": "Lo siento, no he podido preparar una respuesta fiable. Voy a pasarte con un compañero.",
        "de": ("Entschuldigung, ich konnte keine verlässliche Antwort finden. Ich hole jemanden "
               "aus dem Team dazu."),
        "fr": "Désolé, je n'ai pas pu préparer une réponse fiable. Je fais appel à un collègue.",
        "pt": "Desculpe, não consegui preparar uma resposta fiável. Vou chamar um colega.",
    },
    prompts.LATE_APOLOGY: {
        "es": ("Perdona el retraso: tu mensaje nos acaba de llegar. Un compañero te responderá aquí "
               "({eta}; ticket {ticket})."),
        "de": ("Entschuldigen Sie die Verzögerung: Ihre Nachricht ist gerade erst bei uns "
               "angekommen. Die Antwort kommt hier ({eta}; Ticket {ticket})."),
        "fr": ("Désolé pour le retard : votre message vient seulement de nous parvenir. Un collègue "
               "vous répondra ici ({eta} ; ticket {ticket})."),
        "pt": ("Pedimos desculpa pela demora: a sua mensagem acabou de nos chegar. Um colega vai "
               "responder aqui ({eta}; ticket {ticket})."),
    },
    prompts.UNSURE: {
        "es": "No estoy seguro de eso, así que voy a pasarte con un compañero que pueda ayudarte.",
        "de": "Da bin ich mir nicht sicher, deshalb hole ich jemanden aus dem Team dazu, der helfen kann.",
        "fr": "Je ne suis pas certain de la réponse, alors je fais appel à un collègue qui pourra vous aider.",
        "pt": "Não tenho a certeza sobre isso, por isso vou chamar um colega que possa ajudar.",
    },
    prompts.ORDER_UPDATE: {
        "es": "Aquí tienes la última información. {order}",
        "de": "Hier der aktuelle Stand. {order}",
        "fr": "Voici les dernières nouvelles. {order}",
        "pt": "Aqui está a informação mais recente. {order}",
    },
    prompts.ORDER_SENTENCE: {
        "es": "El pedido {ref} ({items}) {status}",
        "de": "Die Bestellung {ref} ({items}) {status}",
        "fr": "La commande {ref} ({items}) {status}",
        "pt": "A encomenda {ref} ({items}) {status}",
    },
    prompts.ORDER_EXPECTED: {
        "es": ", con llegada prevista el {eta}",
        "de": ", voraussichtlich am {eta}",
        "fr": ", livraison prévue le {eta}",
        "pt": ", com entrega prevista a {eta}",
    },
    prompts.ORDER_CARRIER: {"es": " vía {carrier}", "de": " mit {carrier}", "fr": " avec {carrier}",
                            "pt": " pela {carrier}"},
    prompts.ORDER_TRACK: {
        "es": " Síguelo aquí: {url}",
        "de": " Hier verfolgen: {url}",
        "fr": " Suivez-la ici : {url}",
        "pt": " Acompanhe aqui: {url}",
    },
    ORDER_STATUSES["processing"]: {
        "es": "se está preparando en nuestro almacén",
        "de": "wird in unserem Lager vorbereitet",
        "fr": "est en préparation dans notre entrepôt",
        "pt": "está a ser preparada no nosso armazém",
    },
    ORDER_STATUSES["dispatched"]: {"es": "está en camino", "de": "ist unterwegs", "fr": "est en route",
                                   "pt": "está a caminho"},
    ORDER_STATUSES["out_for_delivery"]: {
        "es": "está en reparto hoy",
        "de": "wird heute zugestellt",
        "fr": "est en cours de livraison aujourd'hui",
        "pt": "sai hoje para entrega",
    },
    ORDER_STATUSES["delivered"]: {"es": "fue entregado", "de": "wurde zugestellt", "fr": "a été livrée",
                                  "pt": "foi entregue"},
    ORDER_STATUSES["awaiting_collection"]: {
        "es": "está listo para recoger en tienda",
        "de": "liegt zur Abholung im Geschäft bereit",
        "fr": "est prête à être retirée en magasin",
        "pt": "está pronta para levantar na loja",
    },
    ORDER_STATUSES["cancelled"]: {"es": "fue cancelado", "de": "wurde storniert", "fr": "a été annulée",
                                  "pt": "foi cancelada"},
    prompts.ORDER_CHOICE_ASK: {
        "es": "¿A qué pedido te refieres?\n{options}\nResponde con el número.",
        "de": "Welche Bestellung meinen Sie?\n{options}\nAntworten Sie mit der Nummer.",
        "fr": "De quelle commande parlez-vous ?\n{options}\nRépondez avec le numéro.",
        "pt": "A que encomenda se refere?\n{options}\nResponda com o número.",
    },
    prompts.NO_ORDERS_REPLY: {
        "es": ("Todavía no veo pedidos en tu cuenta. Si has pedido hace poco, envíame el número de "
               "pedido (como HP-10001) y lo busco."),
        "de": ("Ich sehe noch keine Bestellungen in Ihrem Konto. Wenn Sie kürzlich bestellt haben, "
               "senden Sie mir die Bestellnummer (z. B. HP-10001), dann sehe ich nach."),
        "fr": ("Je ne vois encore aucune commande sur votre compte. Si vous avez commandé "
               "récemment, envoyez-moi le numéro de commande (comme HP-10001) et je vérifie."),
        "pt": ("Ainda não vejo encomendas na sua conta. Se encomendou há pouco, envie-me o número "
               "da encomenda (como HP-10001) e eu procuro."),
    },
    prompts.NOT_ON_ACCOUNT: {
        "es": "No lo encuentro en tu cuenta. ¿Puedes revisar el número y enviarlo de nuevo?",
        "de": "Das finde ich in Ihrem Konto nicht. Können Sie die Nummer prüfen und noch einmal senden?",
        "fr": "Je ne le trouve pas sur votre compte. Pouvez-vous vérifier le numéro et le renvoyer ?",
        "pt": "Não encontro isso na sua conta. Pode verificar o número e enviá-lo de novo?",
    },
    prompts.TICKET_OPENED_REPLY: {
        "es": ("He abierto el ticket {id} ({kind}). Nuestro equipo te contestará en un día "
               "laborable."),
        "de": ("Ich habe Ticket {id} ({kind}) für Sie eröffnet. Unser Team meldet sich innerhalb "
               "eines Werktags."),
        "fr": ("J'ai ouvert le ticket {id} ({kind}) pour vous. Notre équipe reviendra vers vous "
               "sous un jour ouvré."),
        "pt": ("Abri o ticket {id} ({kind}) para si. A nossa equipa vai responder no prazo de um "
               "dia útil."),
    },
    prompts.TICKET_UPDATED_REPLY: {
        "es": "He actualizado el ticket {id}; ahora está: {status}.",
        "de": "Ich habe Ticket {id} aktualisiert; Status jetzt: {status}.",
        "fr": "J'ai mis à jour le ticket {id} ; il est maintenant : {status}.",
        "pt": "Atualizei o ticket {id}; o estado agora é: {status}.",
    },
    prompts.MEDIA_UNREAD: {
        "es": ("Todavía no puedo abrir {what}, así que no he visto lo que enviaste. ¿Me cuentas en un "
               "mensaje qué muestra? Si prefieres que lo mire un compañero, responde \"humano\"."),
        "de": ("Ich kann {what} noch nicht öffnen und habe daher nicht gesehen, was Sie gesendet "
               "haben. Können Sie mir schreiben, was darauf zu sehen ist? Soll lieber jemand aus "
               "dem Team draufschauen, antworten Sie \"Mensch\"."),
        "fr": ("Je ne peux pas encore ouvrir {what}, donc je n'ai pas vu ce que vous avez envoyé. "
               "Pouvez-vous me dire dans un message ce que cela montre ? Si vous préférez qu'un "
               "collègue regarde, répondez \"humain\"."),
        "pt": ("Ainda não consigo abrir {what}, por isso não vi o que enviou. Pode dizer-me numa "
               "mensagem o que mostra? Se preferir que um colega veja, responda \"humano\"."),
    },
    prompts.VOICE_UNREAD: {
        "es": ("Todavía no puedo escuchar notas de voz. ¿Puedes escribir tu mensaje? Si prefieres "
               "hablar con un compañero, responde \"humano\"."),
        "de": ("Ich kann Sprachnachrichten noch nicht anhören. Können Sie Ihre Nachricht "
               "stattdessen schreiben? Möchten Sie lieber mit einer Person sprechen, antworten Sie "
               "\"Mensch\"."),
        "fr": ("Je ne peux pas encore écouter les notes vocales. Pouvez-vous écrire votre message ? "
               "Si vous préférez parler à un collègue, répondez \"humain\"."),
        "pt": ("Ainda não consigo ouvir notas de voz. Pode escrever a sua mensagem? Se preferir "
               "falar com um colega, responda \"humano\"."),
    },
    prompts.MEDIA_OR: {"es": " o ", "de": " oder ", "fr": " ou ", "pt": " ou "},
    prompts.OPT_OUT_CONFIRMED: {
        "es": ("Ya no recibirás más mensajes de {business} por aquí. Responde ALTA cuando quieras "
               "volver a recibirlos."),
        "de": ("Sie erhalten hier keine Nachrichten von {business} mehr. Antworten Sie jederzeit "
               "START, um sie wieder zu erhalten."),
        "fr": ("Vous ne recevrez plus de messages de {business} ici. Répondez DÉMARRER à tout "
               "moment pour les recevoir à nouveau."),
        "pt": ("Não vai receber mais mensagens da {business} aqui. Responda COMEÇAR a qualquer "
               "momento para voltar a recebê-las."),
    },
    prompts.OPT_IN_CONFIRMED: {
        "es": ("Te has vuelto a suscribir: {business} puede escribirte por aquí. Responde BAJA "
               "cuando quieras para dejar de recibir mensajes."),
        "de": ("Sie sind wieder angemeldet: {business} kann Ihnen hier schreiben. Antworten Sie "
               "jederzeit STOPP, um keine Nachrichten mehr zu erhalten."),
        "fr": ("Vous êtes de nouveau abonné : {business} peut vous écrire ici. Répondez STOP à "
               "tout moment pour ne plus recevoir de messages."),
        "pt": ("Voltou a subscrever: a {business} pode escrever-lhe aqui. Responda PARAR a "
               "qualquer momento para deixar de receber mensagens."),
    },
    prompts.FIRST_CONTACT: {
        "es": ("Estás hablando con el asistente automático de {business}. Una persona de nuestro "
               "equipo puede atenderte cuando quieras: responde HUMANO."),
        "de": ("Sie schreiben mit dem automatischen Assistenten von {business}. Eine Person aus "
               "unserem Team übernimmt jederzeit: antworten Sie einfach MENSCH."),
        "fr": ("Vous échangez avec l'assistant automatique de {business}. Une personne de notre "
               "équipe peut prendre le relais à tout moment : répondez HUMAIN."),
        "pt": ("Está a falar com o assistente automático da {business}. Uma pessoa da nossa "
               "equipa pode ajudar a qualquer momento: responda HUMANO."),
    },
    "photos": {"es": "fotos", "de": "Fotos", "fr": "photos", "pt": "fotos"},
    "videos": {"es": "vídeos", "de": "Videos", "fr": "vidéos", "pt": "vídeos"},
    "documents": {"es": "documentos", "de": "Dokumente", "fr": "documents", "pt": "documentos"},
    "voice notes": {"es": "notas de voz", "de": "Sprachnachrichten", "fr": "notes vocales",
                    "pt": "notas de voz"},
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


def variants_of(text: str) -> list[str]:
    """`text` (an English constant of nodes/prompts.py) and all its variants, English first: to
    recognise a canned text of ours in any language."""
    return [text, *VARIANTS.get(text, {}).values()]


CUSTOMER_TEXTS = (
    "GREETING_REPLY", "THANKS_REPLY", "CSAT_THANKS", "CSAT_PROMPT", "RATE_LIMIT_REPLY",
    "VERIFY_ASK", "VERIFY_RETRY", "VERIFY_LOCKED", "VERIFY_ONE", "VERIFY_PAUSED", "VERIFY_OK",
    "HANDOFF_ACK", "HANDOFF_COLD", "SAFE_FALLBACK", "LATE_APOLOGY", "UNSURE", "COOLDOWN_UNSURE",
    "CLARIFY_OFFER", "HUMAN_BUTTON", "INJECTION_REDIRECT", "ENGLISH_NOTE", "ORDER_UPDATE", "ORDER_CHOICE_ASK",
    "ORDER_SENTENCE", "ORDER_EXPECTED", "ORDER_CARRIER", "ORDER_TRACK",
    "NO_ORDERS_REPLY", "NOT_ON_ACCOUNT", "TICKET_OPENED_REPLY", "TICKET_UPDATED_REPLY",
    "MEDIA_UNREAD", "VOICE_UNREAD", "MEDIA_OR", "OPT_OUT_CONFIRMED", "OPT_IN_CONFIRMED",
    "FIRST_CONTACT",
)
"""The constants of nodes/prompts.py a customer reads; each has a variant in every language
(tests/unit/nodes/test_canned_languages.py). MEDIA_NAMES' values and graph/base/tool_results.py
ORDER_STATUSES' count too."""
SAME_AS_ENGLISH = frozenset({("photos", "fr"), ("documents", "fr")})
"""Variants that are the English word by nature (French "photos", "documents")."""
