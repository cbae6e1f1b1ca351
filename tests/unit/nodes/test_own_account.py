"""Which questions need the customer's own account (and so verification), and which are
general policy questions anyone may ask."""

import pytest

from nodes.own_account import asks_about_own_account, needs_account


@pytest.mark.parametrize("text", [
    "where is my order?", "where is my order HP-10007?", "and HP-10008?", "HP-10002?",
    "Has my parcel shipped yet?", "my parcel never arrived", "When will my refund arrive?",
    "I was charged twice", "can you send me my invoice for last month?",
    "Can you tell me where my order is?", "I ordered a lamp last week, when will it come?",
    "¿Dónde está mi pedido?", "Wo ist meine Bestellung?", "où est ma commande ?",
    "onde está a minha encomenda?", "is my sofa out for delivery today",
    "could you let me know if my order has been dispatched", "order status",
    "Ich wurde doppelt belastet", "the parcel says delivered but I never got it",
])
def test_questions_about_the_customer_s_own_things_need_the_account(text):
    assert asks_about_own_account(text)


@pytest.mark.parametrize("text", [
    "Do you deliver on Saturdays?", "can I change my delivery address?",
    "how do I track my order?", "What happens if I miss my delivery?",
    "Is this a scam? I got a text asking for a delivery fee",
    "Do I need my order number to return something?", "how much is express delivery?",
    "Do gift cards expire?", "Why isn't my discount code working?", "What payment methods do you accept?",
])
def test_general_questions_do_not(text):
    assert not asks_about_own_account(text)


def test_only_account_intents_verify_and_a_complaint_always_does():
    assert needs_account("order_status", "where is my order?")
    assert not needs_account("order_status", "Do you deliver on Saturdays?")
    assert not needs_account("billing", "Do you offer Klarna?")
    assert needs_account("billing", "I was charged twice")
    assert not needs_account("returns_refunds", "where is my order?")
    assert needs_account("complaint", "the sofa arrived scratched, unacceptable")
