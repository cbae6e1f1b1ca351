"""Console media links: made for one agent, valid until their expiry, unforgeable."""

from server.media.links import MediaLinks

NOW = 1_800_000_000.0


def parts(url: str) -> tuple[str, str]:
    query = dict(p.split("=") for p in url.split("?", 1)[1].split("&"))
    return query["exp"], query["sig"]


def test_a_link_works_for_its_agent_until_it_expires():
    links = MediaLinks(b"k" * 32, ttl_s=300)
    url = links.url(7, "ana", now=NOW)
    assert url.startswith("/console/media/7?exp=")
    exp, sig = parts(url)
    assert links.valid(7, "ana", exp, sig, now=NOW + 299)
    assert not links.valid(7, "ana", exp, sig, now=int(exp) + 1)  # expired
    assert not links.valid(7, "ben", exp, sig, now=NOW)  # another agent
    assert not links.valid(8, "ana", exp, sig, now=NOW)  # another file
    assert not links.valid(7, "ana", str(int(exp) + 60), sig, now=NOW)  # expiry moved
    assert not MediaLinks(b"x" * 32, 300).valid(7, "ana", exp, sig, now=NOW)  # another key


def test_malformed_parameters_are_refused_not_raised():
    links = MediaLinks(b"k" * 32, ttl_s=300)
    for exp, sig in (("", ""), ("12a", "00"), ("9" * 40, "00"), (str(int(NOW) + 200), "\udcff\ud800é")):
        assert not links.valid(7, "ana", exp, sig, now=NOW)
    far = str(int(NOW) + 10_000)  # a lifetime we never grant
    assert not links.valid(7, "ana", far, links._sign(7, int(far), "ana"), now=NOW)


def test_urls_are_stable_within_a_minute_so_the_browser_can_cache_them():
    links = MediaLinks(b"k" * 32, ttl_s=300)
    assert links.url(7, "ana", now=NOW + 1) == links.url(7, "ana", now=NOW + 2)
