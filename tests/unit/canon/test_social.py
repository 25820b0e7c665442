"""Social accounts: platform:handle and profile URLs to user-account, per-platform rules, rejects."""

from __future__ import annotations

import pytest

from tests.unit.canon.helpers import bad, ok

ACCEPTED = [
    ("https://t.me/ScamSupport_Bot", "telegram:scamsupport_bot"),
    ("t.me/s/SomeChannel", "telegram:somechannel"),
    ("telegram:@ScamBot", "telegram:scambot"),
    ("TG : scambot", "telegram:scambot"),
    ("twitter:@Foo", "x:foo"),
    ("https://x.com/Elon_Fake", "x:elon_fake"),
    ("https://mobile.twitter.com/Foo/status/123", "x:foo"),
    ("https://www.facebook.com/John.Smith.55", "facebook:johnsmith55"),
    ("fb:johnsmith55", "facebook:johnsmith55"),
    ("https://m.facebook.com/profile.php?id=100012345678&ref=x", "facebook:100012345678"),
    ("https://instagram.com/some.handle/", "instagram:some.handle"),
    ("ig:@Some.Handle", "instagram:some.handle"),
    ("https://www.tiktok.com/@Scam.Shop?lang=en", "tiktok:scam.shop"),
    ("https://www.youtube.com/@FakeBank", "youtube:fakebank"),
    ("https://www.threads.net/@h_x", "threads:h_x"),
    ("https://www.linkedin.com/in/john-doe-123/", "linkedin:john-doe-123"),
    ("https://www.reddit.com/user/Spez", "reddit:spez"),
    ("reddit:u/Spez", "reddit:spez"),
    ("snapchat.com/add/snapper", "snapchat:snapper"),
    ("line:@ScamShop", "line:ScamShop"),  # unknown platform: case kept
    ("Mastodon:@User@mastodon.social", "mastodon:User@mastodon.social"),
]


@pytest.mark.parametrize(("raw", "value"), ACCEPTED)
def test_accepted(raw: str, value: str) -> None:
    c = ok("social", raw)
    assert c.value == value
    platform, _, handle = value.partition(":")
    assert c.sco_type == "user-account"
    assert dict(c.props) == {"account_type": platform, "account_login": handle, "user_id": handle}
    assert dict(c.id_props) == dict(c.props)
    assert dict(c.pattern_props) == {"account_type": platform, "account_login": handle}
    assert c.facts["platform"] == platform


REJECTED = [
    ("@handle", "needs its platform"),
    ("handle", "expected platform:handle"),
    ("https://wa.me/66812345678", "type phone"),
    ("whatsapp:+66812345678", "type phone"),
    ("https://t.me/+AbCdEf123", "invite link"),
    ("https://t.me/joinchat/AbC", "invite link"),
    ("https://x.com/home", "site page"),
    ("https://www.facebook.com/groups/123", "site page"),
    ("https://example.com/foo", "not a known social platform"),
    ("tg:abc", "not a possible telegram handle"),
    ("x:waytoolonghandle12345", "not a possible x handle"),
    ("instagram:bad handle", "not a possible instagram handle"),
    ("https://www.tiktok.com/scamshop", "/@handle"),
    ("https://x.com/", "without an account name"),
    ("line:has space", "no spaces"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTED)
def test_rejected(raw: str, reason: str) -> None:
    assert reason in bad("social", raw).reason


def test_url_and_prefixed_forms_share_one_id() -> None:
    forms = ["https://t.me/ScamBot", "telegram:@scambot", "tg:SCAMBOT", "https://telegram.me/scambot/"]
    assert len({ok("social", f).sco_id for f in forms}) == 1


def test_facebook_ignores_dots_and_case() -> None:
    ids = {ok("social", f).sco_id for f in ["fb:john.smith.55", "facebook:JohnSmith55", "fb:j.o.h.n.smith55"]}
    assert len(ids) == 1
