"""Social accounts: platform:handle, platform:id:N and profile URLs to user-account; rules and rejects."""

from __future__ import annotations

import pytest
import stix2
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.canon import REGISTRY, canonicalize
from pipeline.canon.social import ACCOUNT_TYPES, CREDENTIAL_TYPES
from pipeline.processors.validate import observable_input
from pipeline.stix.pattern import parse_simple_pattern
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
    ("x:1357111317", "x:1357111317"),  # written as a handle: the X user whose handle is digits
    ("skype:Scam.Support_1", "skype:scam.support_1"),
    ("skype:echo123?call", "skype:echo123"),
    ("skype:live:.cid.3c7f2a1b", "skype:live:.cid.3c7f2a1b"),
    ("github:Octo-Cat", "github:octo-cat"),
    ("https://github.com/octocat/hello-world", "github:octocat"),
    ("tg://resolve?domain=ScamBot", "telegram:scambot"),
    ("https://twitter.com/intent/user?screen_name=Foo", "x:foo"),
]


@pytest.mark.parametrize(("raw", "value"), ACCEPTED)
def test_accepted(raw: str, value: str) -> None:
    c = ok("social", raw)
    assert c.value == value
    platform, _, handle = value.partition(":")
    assert c.sco_type == "user-account"
    account_type = ACCOUNT_TYPES.get(platform, platform)
    assert dict(c.props) == {"account_type": account_type, "account_login": handle}
    assert dict(c.id_props) == dict(c.props)
    assert dict(c.pattern_props) == dict(c.props)
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
    ("skype:ab", "not a possible skype handle"),
    ("skype:1abcdef", "not a possible skype handle"),
    ("github:-octocat", "not a possible github handle"),
    ("github:octo--cat", "not a possible github handle"),
    ("github:" + "a" * 40, "not a possible github handle"),
    ("https://github.com/orgs/acme", "site page"),
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


# --- handles and platform ids are kept apart ------------------------------------------------------------

BY_ID = [
    # (raw, canonical value, STIX account_type, user_id)
    ("x:id:1357111317", "x:id:1357111317", "twitter", "1357111317"),
    ("twitter:ID:1357111317", "x:id:1357111317", "twitter", "1357111317"),
    ("https://x.com/i/user/1357111317", "x:id:1357111317", "twitter", "1357111317"),
    ("https://twitter.com/intent/user?user_id=1357111317", "x:id:1357111317", "twitter", "1357111317"),
    ("telegram:id:123456789", "telegram:id:123456789", "telegram", "123456789"),
    ("tg://user?id=123456789", "telegram:id:123456789", "telegram", "123456789"),
    ("facebook:id:100012345678901", "facebook:id:100012345678901", "facebook", "100012345678901"),
    ("https://m.facebook.com/profile.php?id=100012345678&ref=x", "facebook:id:100012345678", "facebook",
     "100012345678"),
    ("https://www.facebook.com/people/John-Smith/100012345678901/", "facebook:id:100012345678901", "facebook",
     "100012345678901"),
    ("fb:100012345678", "facebook:id:100012345678", "facebook", "100012345678"),  # facebook.com/<digits>
    ("instagram:id:25025320", "instagram:id:25025320", "instagram", "25025320"),
    ("tiktok:id:6812345678901234567", "tiktok:id:6812345678901234567", "tiktok", "6812345678901234567"),
    ("discord:id:80351110224678912", "discord:id:80351110224678912", "discord", "80351110224678912"),
    ("github:id:583231", "github:id:583231", "github", "583231"),
    ("https://api.github.com/user/583231", "github:id:583231", "github", "583231"),
    ("https://www.youtube.com/channel/UC_x5XG1OV2P6uZZ5FSM9Ttw", "youtube:id:UC_x5XG1OV2P6uZZ5FSM9Ttw",
     "youtube", "UC_x5XG1OV2P6uZZ5FSM9Ttw"),  # case kept: channel ids are case-sensitive
    ("line:id:5", "line:id:5", "line", "5"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "value", "account_type", "user_id"), BY_ID)
def test_platform_ids_are_user_ids_never_handles(
    raw: str, value: str, account_type: str, user_id: str
) -> None:
    c = ok("social", raw)
    assert c.value == value
    props = {"account_type": account_type, "user_id": user_id}
    assert dict(c.props) == props
    assert dict(c.id_props) == props
    assert dict(c.pattern_props) == props
    assert c.facts["platform"] == value.partition(":")[0]
    assert c.sco_id == stix2.UserAccount(**props).id


def test_a_handle_of_digits_and_an_id_of_the_same_digits_are_two_accounts() -> None:
    handle, by_id = ok("social", "x:1357111317"), ok("social", "x:id:1357111317")
    assert dict(handle.props) == {"account_type": "twitter", "account_login": "1357111317"}
    assert dict(by_id.props) == {"account_type": "twitter", "user_id": "1357111317"}
    assert handle.sco_id != by_id.sco_id
    assert handle.indicator_id != by_id.indicator_id


ID_REJECTED = [
    ("x:id:jack", "'jack' is not a valid x id: x ids are 1-20 digits, no leading zero"),
    ("x:id:0123", "no leading zero"),
    ("facebook:id:john.smith", "not a valid facebook id"),
    ("telegram:id:-1001234567890", "for a group or channel give its public name"),
    ("instagram:id:12a", "not a valid instagram id"),
    ("tiktok:id:" + "1" * 21, "not a valid tiktok id"),
    ("discord:id:1234", "17-20 digits"),
    ("youtube:id:123456", "'UC' and 22 letters, digits"),
    ("github:id:octocat", "not a valid github id"),
    ("reddit:id:123", "a reddit account has no numeric id here: give its handle"),
    ("line:id:abc", "line ids are 1-30 digits"),
    ("line:@id:5", "a handle may not start with 'id:'"),  # an other platform's handle cannot look like an id
    ("https://www.facebook.com/profile.php", "without an id"),
    ("tg://user?name=x", "a tg://user link without its id"),
]


@pytest.mark.parametrize(("raw", "reason"), ID_REJECTED)
def test_malformed_ids_are_rejected(raw: str, reason: str) -> None:
    assert reason in bad("social", raw).reason


# --- STIX account_type ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "account_type"),
    [("x:foo", "twitter"), ("facebook:foo", "facebook"), ("skype:scam.support", "skype"),
     ("telegram:scambot", "telegram"), ("github:octocat", "github"), ("Line:Foo", "line")],
)  # fmt: skip
def test_account_type_is_the_stix_vocabulary_where_it_has_the_platform(raw: str, account_type: str) -> None:
    c = ok("social", raw)
    assert c.props["account_type"] == account_type
    assert f"user-account:account_type = '{account_type}'" in c.pattern
    assert c.value.split(":")[0] == c.facts["platform"]  # our name stays in the value and the facts


def test_x_is_twitter_in_stix_and_x_in_the_value() -> None:
    c = ok("social", "https://x.com/Elon_Fake")
    assert c.value == "x:elon_fake"
    assert c.facts["platform"] == "x"
    assert c.pattern == "[user-account:account_login = 'elon_fake' AND user-account:account_type = 'twitter']"


@pytest.mark.parametrize("account_type", sorted(CREDENTIAL_TYPES))
@pytest.mark.parametrize("form", ["{t}:root", "{t}:id:0", "{T}:Administrator"])
def test_system_credential_account_types_are_refused(account_type: str, form: str) -> None:
    reason = bad("social", form.format(t=account_type, T=account_type.upper())).reason
    assert f"{account_type} account is a " in reason
    assert "(a victim's, typically), not a scam social account" in reason


def test_unix_refusal_reads_well() -> None:
    assert bad("social", "unix:root").reason.startswith(
        "a unix account is a system credential (a victim's, typically), not a scam social account"
    )


# --- reading STIX back ----------------------------------------------------------------------------------


def _read(props: dict[str, str]) -> str | None:
    return REGISTRY["social"].stix_input.read(props)


def test_stix_props_with_only_user_id_give_the_id_form() -> None:
    raw = _read({"account_type": "twitter", "user_id": "1357111317"})
    assert raw == "twitter:id:1357111317"
    assert ok("social", raw).value == "x:id:1357111317"


def test_stix_props_with_login_and_user_id_give_the_login_form() -> None:
    raw = _read({"account_type": "facebook", "user_id": "100004", "account_login": "fake.bank.help"})
    assert raw == "facebook:fake.bank.help"
    c = ok("social", raw)
    assert c.value == "facebook:fakebankhelp"
    assert "user_id" not in c.props


def test_stix_props_never_read_an_id_as_a_handle() -> None:
    assert ok("social", _read({"account_type": "telegram", "user_id": "123456789"})).props == {
        "account_type": "telegram",
        "user_id": "123456789",
    }
    assert _read({"account_type": "telegram"}) is None
    assert _read({"user_id": "1", "account_login": "a"}) is None


def test_a_stix_login_spelled_like_the_id_marker_is_judged_as_a_handle() -> None:
    assert (
        "may not start with 'id:'"
        in bad("social", str(_read({"account_type": "line", "account_login": "id:5"}))).reason
    )


def test_a_unix_account_in_stix_is_refused() -> None:
    raw = _read({"account_type": "unix", "account_login": "root", "user_id": "0"})
    assert raw is not None
    assert "system credential" in bad("social", raw).reason


@pytest.mark.parametrize(
    "raw",
    [
        "x:foo",
        "x:id:1357111317",
        "facebook:id:100004",
        "skype:live:.cid.3c7f2a1b",
        "youtube:id:UC_x5XG1OV2P6uZZ5FSM9Ttw",
    ],
)
def test_the_pattern_reads_back_to_the_same_account(raw: str) -> None:
    c = ok("social", raw)
    comparisons = parse_simple_pattern(c.pattern)
    assert isinstance(comparisons, list)
    target = observable_input(comparisons)
    assert isinstance(target, tuple)
    assert ok("social", target[1]) == c


# --- idempotence of both forms --------------------------------------------------------------------------

_HANDLE = st.from_regex(r"[a-z][a-z0-9]{4,13}", fullmatch=True)  # a handle on each platform drawn
_DIGITS = st.from_regex(r"[1-9][0-9]{0,18}", fullmatch=True)


@st.composite
def _accounts(draw: st.DrawFn) -> str:
    platform = draw(
        st.sampled_from(["x", "twitter", "telegram", "instagram", "tiktok", "github", "fb", "line"])
    )
    marker = draw(st.sampled_from(["id:", "ID:", "Id:"]))
    name = draw(_HANDLE)
    name = "".join(c.upper() if draw(st.booleans()) else c for c in name)
    return draw(
        st.sampled_from([f"{platform}:{marker}{draw(_DIGITS)}", f"{platform}:@{name}", f"{platform}:{name}"])
    )


@settings(max_examples=200, deadline=None)
@given(raw=_accounts())
def test_both_forms_are_fixed_points(raw: str) -> None:
    c = ok("social", raw)
    assert canonicalize("social", c.value) == c
    assert ("user_id" in c.props) == (":id:" in c.value)
    assert ("account_login" in c.props) != ("user_id" in c.props)


@pytest.mark.parametrize("raw", ["mastodon:@@alice", "mastodon:@alice", "mastodon:alice"])
def test_every_leading_at_is_dropped_so_the_value_is_its_own_canonical_form(raw: str) -> None:
    c = ok("social", raw)
    assert c.value == "mastodon:alice"
    assert ok("social", c.value) == c


def test_control_characters_are_no_handle() -> None:
    bad("social", "foo:a\x00b")
