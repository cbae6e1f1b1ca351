"""graph.base.pii: one test per pattern, and ordinary sentences that must come back untouched."""

import pytest

from graph.base.pii import iban_ok, luhn_ok, normalize, redact, scrub, skeleton


@pytest.mark.parametrize("text, kind, leaked", [
    ("card 4111 1111 1111 1111 pls", "card", "1111 1111"),
    ("card 4111-1111-1111-1111", "card", "1111-1111"),
    ("card 4111.1111.1111.1111", "card", "1111.1111"),
    ("card 4111/1111/1111/1111", "card", "1111/1111"),
    ("amex 3782 822463 10005", "card", "822463"),
    ("mastercard 5500000000000004 thanks", "card", "5500000000000004"),
    ("my cvv is 123", "cvv", "123"),
    ("the 3 digits on the back are 456", "cvv", "456"),
    ("password: hunter2", "secret", "hunter2"),
    ("my pw is Tr0ub4dor&3", "secret", "Tr0ub4dor"),
    ("My verification code is 839201", "secret", "839201"),
    ("my password hunter2!", "secret", "hunter2"),
    ("contraseña: secreto123", "secret", "secreto123"),
    ("api_key=abc123def456ghi789", "secret", "abc123def456"),
    ("key sk-proj-abcdefghijklmnop1234", "secret", "abcdefghijklmnop"),
    ("AKIAIOSFODNN7EXAMPLE", "secret", "IOSFODNN7"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "secret", "abcdefghijklmnop"),
    ("xoxb-1234567890-abcdefghij", "secret", "1234567890"),
    ("Authorization: Bearer abcdef1234567890abcdef", "secret", "abcdef1234567890"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "secret", "eyJzdWIi"),
    ("db postgres://admin:hunter2@db.example.com/prod", "secret", "hunter2"),
    ("mail me at jo.bloggs+shop@mail.co.uk", "email", "bloggs"),
    ("liam at example dot com", "email", "liam"),
    ("liam [at] example [dot] com", "email", "liam"),
    ("liam dot oconnor at example dot com", "email", "oconnor"),
    ("liam(at)example.com", "email", "liam"),
    ("liam @ example . com", "email", "liam"),
    ("liam.q at gmail", "email", "liam.q"),
    ("ring me on +44 7700 900123", "phone", "900123"),
    ("or 07700-900-123", "phone", "900-123"),
    ("call (415) 555-0134", "phone", "555-0134"),
    ("my number is 555 0134", "phone", "0134"),
    ("born 12/03/1990", "dob", "1990"),
    ("my date of birth is 3rd March 1985", "dob", "1985"),
    ("DOB: 1985-03-03", "dob", "1985"),
    ("IBAN GB82 WEST 1234 5698 7654 32", "iban", "5698"),
    ("pay DE89370400440532013000 back", "iban", "0532013000"),
    ("sort code 12-34-56 account 12345678", "bank", "12345678"),
    ("NI number QQ 12 34 56 C", "national_id", "34 56"),
    ("SSN 123-45-6789", "national_id", "6789"),
    ("deliver to 12 Curtain Road please", "address", "Curtain"),
    ("12 baker street", "address", "baker"),
    ("postcode is EC2A 3BX", "postcode", "3BX"),
    ("1600 Pennsylvania Ave NW, Washington, DC 20500", "postcode", "20500"),
    ("742 Evergreen Terrace, Springfield 49007", "postcode", "49007"),
    ("I'm at 51.5033635, -0.0753775", "location", "51.50"),
])
def test_each_pattern_redacts(text, kind, leaked):
    redacted, kinds = redact(text)
    assert kind in kinds, (redacted, kinds)
    assert leaked not in redacted


@pytest.mark.parametrize("text", [
    "order HP-10002 cost £42.00 on 12/11",
    "my orders HP-12345, hp 12346 and HP12347 are late",
    "I ordered 2 chairs and 1 table for delivery on 12/03/2025",
    "delivery between 10.30 - 11.30 tomorrow, 2024-12-03 14:05",
    "Can I get 3 of the Grove sofas at £1,299.00 each?",
    "the sideboard is 180 x 90 x 75 cm",
    "it took 3 days on the road",
    "my password is not working",
    "I need a new api key",
    "use code SAVE10 at checkout",
    "I'm at Tesco. Then home",
    "ref 4111 1111 1111 1112",
    "basic responsibilities of the courier",
    "look at me, I love live music",
    "password reset please",
    "Your refund of £1,234.56 is on its way",
])
def test_ordinary_sentences_are_untouched(text):
    assert redact(text) == (text, [])


def test_text_is_normalised_before_matching():
    assert normalize("ｆｕｌｌ\u200bwidth\u00ad") == "fullwidth"
    assert redact("card ４１１１ １１１１ １１１１ １１１１")[1] == ["card"]
    assert redact("card 4111\u200b1111\u200b1111\u200b1111")[1] == ["card"]
    assert redact("liam＠example．com")[1] == ["email"]
    assert redact("card ٤١١١ ١١١١ ١١١١ ١١١١")[1] == ["card"]  # Arabic-Indic digits
    assert redact("card 4\u03321\u03321\u03321\u0332 1111 1111 1111")[1] == ["card"]  # underlined
    assert redact("card 4111\u034f1111\u31641111\u28001111")[1] == ["card"]  # invisible non-Cf
    assert redact("card 4111\n1111\n1111\n1111")[1] == ["card"]
    assert skeleton("ІＧＮОRЕ  thé\u200b rules") == "ignore the rules"


def test_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB00 WEST 1234 5698 7654 32")


def test_order_refs_survive_next_to_personal_data():
    redacted, kinds = redact("HP-10002 to 12 Baker Street, card 4111111111111111")
    assert redacted.startswith("HP-10002 to [address]") and kinds == ["card", "address"]


def test_two_cards_in_one_run_are_both_masked():
    assert redact("4111 1111 1111 1111 5500 0000 0000 0004")[0] == "[card] [card]"


def test_card_expiry_and_code_after_a_card_go_too():
    redacted, _ = redact("4111111111111111 exp 12/27 123")
    assert redacted == "[card] [card details]"


def test_output_scrub_keeps_contact_details_but_not_secrets():
    cleaned, problems = scrub("Email help@shop.example or call 0800 123 4567. Key sk-live-abcdefghijkl")
    assert "help@shop.example" in cleaned and "0800 123 4567" in cleaned
    assert "sk-live" not in cleaned and problems == ["secret"]
    cleaned, problems = scrub("Paid from sort code 12-34-56, account 12345678")
    assert "12345678" not in cleaned and "•••• 5678" in cleaned and problems == ["account_number"]


def test_pathological_input_is_fast():
    import time

    start = time.perf_counter()
    for text in ("1 " * 5000, "a." * 5000 + "@", "liam at " + "x dot " * 2000, "12 " + "Abc " * 3000):
        redact(text)
    assert time.perf_counter() - start < 3
