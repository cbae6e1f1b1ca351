"""Concepts shared by five languages: a feature block that lets what the model learns from
"refund" carry over to "reembolso", "Rückerstattung", "remboursement" and "reembolso".

These are features for the learned model, not rules: a concept says nothing about the
intent until the labelled examples teach the model what it weighs. A stem matches the start
of a word of the folded text (lower case, no accents); a stem with a space matches words in
a row.
"""

from __future__ import annotations

import re

import numpy as np

CONCEPTS: dict[str, tuple[str, ...]] = {
    "delivery": (
        "deliver", "shipping", "ship", "shipped", "shipment", "dispatch", "courier", "parcel",
        "package", "track", "transit", "arriv", "eta", "driver", "postman", "envio", "entrega",
        "paquete", "seguimiento", "llega", "repartidor", "liefer", "paket", "sendung",
        "versand", "zugestellt", "kurier", "livr", "colis", "suivi", "expedi", "arrive",
        "transporteur", "encomenda", "entreg", "rastre", "cheg", "pacote", "envi", "estafeta"),
    "order": ("order", "purchase", "pedido", "bestell", "commande", "compra", "achat"),
    "return": ("return", "send back", "send it back", "sending back", "retour", "devol",
               "rucksend", "ruckgab", "zuruckschick", "zuruckgeb", "renvoy", "retourn"),
    "refund": ("refund", "reimburs", "money back", "reembols", "erstatt", "geld zuruck", "rembours",
               "dinero", "devuelto", "dinheiro", "store credit"),
    "exchange": ("exchang", "swap", "cambi", "umtausch", "tausch", "echang", "troc"),
    "warranty": ("warrant", "guarantee", "garanti"),
    "payment": (
        "pay", "paid", "charg", "card", "klarna", "paypal", "bank transfer", "my bank", "transaction", "debit",
        "declin", "overcharg", "instal", "pago", "pagar", "cobr", "tarjeta", "plazo", "zahl",
        "bezahl", "belast", "karte", "abgebucht", "abbuch", "paie", "payer", "debite", "carte", "prelev",
        "pagamento", "cartao", "apple pay", "mb way"),
    "invoice": ("invoice", "receipt", "bill", "vat", "statement", "factura", "recibo",
                "rechnung", "quittung", "beleg", "facture", "recu", "fatura", "nota fiscal",
                "iva", "tva", "mwst"),
    "discount": ("promo", "discount", "voucher", "coupon", "gift card", "code", "sale price",
                 "descuento", "cupon", "gutschein", "rabatt", "reduction", "bon d achat",
                 "desconto", "cupao", "vale", "cheque prenda", "carte cadeau"),
    "damage": (
        "damag", "broke", "break", "scratch", "crack", "dent", "stain", "shatter", "smash",
        "snap", "chip", "faulty", "defect", "torn", "peel", "wobbl", "missing part", "roto", "rota",
        "rayad", "danad", "estropead", "kaputt", "beschadig", "zerbroch", "kratz", "defekt",
        "abim", "cass", "raye", "defectu", "danific", "partid", "quebr", "riscad", "estragad",
        "mancha", "fleck", "tache", "riss", "gerissen", "squeak", "split", "sag"),
    "negative": (
        "disappoint", "dissapoint", "unhappy", "not happy", "terrible", "awful", "worst",
        "horribl", "unacceptabl", "ridiculous", "disgrace", "furious", "fed up", "shocking",
        "is a joke", "complain", "complaint", "dissatisf", "poor", "rude", "lied", "scandal",
        "escalat", "compensat", "disaster", "desastre", "katastroph", "catastroph", "annoy", "feedback", "review", "claim", "report you", "queja",
        "reclam", "decepcion", "verguenza", "fatal", "pesim", "beschwer", "enttausch",
        "frechheit", "unverschamt", "schlecht", "unzufrieden", "plaindre", "plainte", "queix",
        "outrag", "mecontent", "sucks", "rubbish", "useless", "crap", "pathetic", "grievance", "displeas", "not satisfied", "maleducad",
        "mal educad", "sick of", "excuse", "reclamation", "decu", "inadmissible",
        "nul", "honte", "insatisf", "absurd", "vergonha", "pessim", "pena"),
    "person": (
        "human", "person", "agent", "someone", "somebody", "anyone", "staff", "representative",
        "manager", "supervisor", "colleague", "advisor", "employee", "in charge", "machine",
        "bot", "persona", "alguien", "agente", "asesor", "responsable", "mensch", "mitarbeiter",
        "jemand", "berater", "personne", "quelqu", "conseill", "pessoa", "alguem", "atendente"),
    "product": (
        "size", "dimension", "measure", "wide", "width", "tall", "height", "weigh",
        "material", "wood", "fabric", "linen", "velvet", "colour", "color", "stock",
        "available", "price", "cost", "cheap", "clean", "care", "assembl", "fit", "firm",
        "recommend", "matching", "sample", "comfortable", "washable", "medida", "tamano",
        "talla", "madera", "precio", "cuesta", "disponible", "limpi", "colchon", "masse",
        "grosse", "farbe", "preis", "kostet", "lager", "reinig", "taille", "couleur",
        "matiere", "prix", "entreten", "nettoy", "tamanho", "cor", "preco", "disponivel",
        "limpar", "medidas", "firme", "version", "bigger", "smaller", "black", "white", "grey",
        "gray", "green", "blue", "red", "negro", "blanco", "gris", "verde", "azul", "schwarz",
        "weiss", "grau", "grun", "blau", "noir", "blanc", "vert", "bleu", "preto", "branco",
        "cinza", "oak", "walnut", "roble", "eiche", "chene", "carvalho", "in stock"),
    "account": (
        "account", "password", "login", "log in", "sign in", "sign up", "username",
        "newsletter", "unsubscrib", "marketing", "personal data", "my data", "privacy",
        "cuenta", "contrasena", "sesion", "datos", "konto", "passwort", "einlogg", "anmeld",
        "daten", "compte", "mot de passe", "connect", "donnees", "conta", "senha", "dados",
        "entrar"),
    "store": ("store", "shop", "open", "hours", "opening", "close", "branch", "tienda",
              "horario", "abiert", "filiale", "geoffnet", "offnungszeit", "laden", "magasin",
              "horaire", "ouvert", "boutique", "loja", "aberto"),
    "waiting": ("when", "how long", "still", "yet", "late", "delay", "waiting", "wait",
                "cuando", "todavia", "aun", "retras", "esper", "wann", "noch", "verspat",
                "wart", "quand", "toujours", "retard", "attend", "quando", "ainda", "atras"),
    "cancel": ("cancel", "anul", "stornier", "annul", "cancel"),
    "address": ("address", "direccion", "adresse", "endereco", "morada", "moved"),
}
NAMES = tuple(CONCEPTS)


def _pattern(stems: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(s) for s in sorted(stems, key=len, reverse=True))
                      + ")")


_PATTERNS = [_pattern(stems) for stems in CONCEPTS.values()]


def concept_vector(folded: str) -> np.ndarray:
    """1.0 for each concept the folded text mentions, else 0.0 (unit length when any)."""
    vector = np.array([1.0 if p.search(folded) else 0.0 for p in _PATTERNS], dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector
