"""Social-media accounts as STIX ``user-account``: ``platform:handle`` or ``platform:id:NUMBER``.

An account is named by its handle (STIX ``account_login``) or by its platform id (STIX ``user_id``), never
one as the other: ``x:1357111317`` is the X user whose handle is ``1357111317``, ``x:id:1357111317`` the
X user whose numeric id is 1357111317, two different people. Handles of the listed platforms cannot
contain ``:``, so the ``id:`` marker is unambiguous; on other platforms a handle may not start with
``id:``.

Input: ``platform:handle`` (``telegram:@ScamBot``, ``tg:scambot``, ``twitter:@Foo``), ``platform:id:N``
(``x:id:1357111317``, ``telegram:id:123456789``, ``facebook:id:100012345678901``), or a profile URL
(``https://t.me/handle``, ``https://www.facebook.com/handle``, ``https://instagram.com/handle/``,
``https://x.com/handle``, ``https://twitter.com/handle/status/1``, ``https://www.tiktok.com/@handle``,
``https://www.youtube.com/@handle``, ``https://www.threads.net/@h``, ``https://www.linkedin.com/in/slug``,
``https://www.reddit.com/user/name``, ``snapchat.com/add/name``, ``https://github.com/name``,
``tg://resolve?domain=name``). URLs that carry an id give the id form: ``facebook.com/profile.php?id=N``,
``facebook.com/people/Name/N``, ``x.com/i/user/N``, ``twitter.com/intent/user?user_id=N``,
``tg://user?id=N``, ``youtube.com/channel/UC...``, ``api.github.com/user/N`` (see
:mod:`pipeline.canon.social_urls`). A bare ``@handle`` is rejected: the platform is needed. ``wa.me`` and
``api.whatsapp.com`` links are rejected: a WhatsApp account is a phone number, submit it as type phone.

Platform aliases: twitter/tw -> x, fb -> facebook, tg -> telegram, ig/insta -> instagram, tt -> tiktok,
yt -> youtube, li -> linkedin, snap -> snapchat, gh -> github.

STIX ``account_type`` (account-type-ov where it has the platform, else our platform name; the vocabulary
is open): x -> ``twitter``, facebook -> ``facebook``, skype -> ``skype``, any other -> its name. The
canonical value and the ``platform`` fact keep our name (``x:handle``); ``twitter`` read from STIX is x.
The vocabulary's system and credential types (unix, windows-local, windows-domain, ldap, nis, radius,
tacacs, and openid, a sign-in identity rather than a platform account) are refused: such an account in a
scam report is almost always the victim's login, and it names no social account a scammer runs.

Handles lose a leading ``@`` (``u/`` on Reddit). Case and character rules per platform:

============  =================  ===============================================  =======================
platform      case               handle rule                                      id rule (``id:``)
============  =================  ===============================================  =======================
telegram      folded             5-32 of ``a-z 0-9 _``, starts with a letter       user or bot id, digits
instagram     folded             1-30 of ``a-z 0-9 . _``                          digits
threads       folded             as instagram (same accounts)                     digits (instagram's)
x             folded             1-15 of ``a-z 0-9 _``                            digits
tiktok        folded             2-24 of ``a-z 0-9 . _``                          digits
facebook      folded, dots drop  1-50 of ``a-z 0-9 .``; all digits is an id       digits
youtube       folded             3-30 of ``a-z 0-9 . _ -``                        ``UC`` + 22 of
                                                                                  ``A-Z a-z 0-9 _ -``
linkedin      folded             3-100 of ``a-z 0-9 -``                           none
reddit        folded             3-20 of ``a-z 0-9 _ -``                          none
snapchat      folded             3-15 of ``a-z 0-9 . _ -``                        none
discord       folded             2-32 of ``a-z 0-9 . _`` (unique usernames)       17-20 digits
skype         folded             6-32 of ``a-z 0-9 . , - _``, starts with a       none
                                 letter; or ``live:`` + 1-64 of
                                 ``a-z 0-9 . _ -``
github        folded             1-39 of ``a-z 0-9`` and single ``-``, not at an  digits
                                 end
other         kept as written    1-100 characters, no spaces, not ``id:...``;     1-30 digits
                                 the platform name is lower-cased
============  =================  ===============================================  =======================

Numeric ids (x, facebook, telegram, instagram, threads, tiktok, github) are 1-20 digits with no leading
zero (Discord's snowflakes 17-20); a Telegram group or channel is named by its public name here (its
negative Bot API id is refused). A YouTube channel id is case-sensitive and kept as written. A Facebook
name of digits only is a profile id (``facebook.com/<digits>`` opens the profile with that id), so
``fb:1000123`` is ``facebook:id:1000123``; on X, Instagram and the others digits are a valid handle and
stay one.

>>> canonicalize("https://t.me/ScamSupport_Bot", None).value
'telegram:scamsupport_bot'
>>> canonicalize("https://www.facebook.com/profile.php?id=100012345678901", None).value
'facebook:id:100012345678901'
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from typing import Final

from pipeline.canon.core import Canonical, Invalid
from pipeline.canon.registry import Kind, StixInput
from pipeline.canon.social_urls import from_url

logger = logging.getLogger(__name__)

#: Results memoised per module (the function is pure): repeated reports of one value are the common case.
#: About 1.5 KB per entry, so 8,192 entries cost about 12 MB per kind at most.
CACHE_SIZE = 8192

KIND = "social"
SCO_TYPE: Final = "user-account"
#: Alternatives, the first whose properties are all present wins: an observable with a login and an id is
#: read by its login (our canonical values carry one or the other, never both).
ID_PROPERTIES: Final = (("account_type", "account_login"), ("account_type", "user_id"))

_ALIASES: Final = {
    "twitter": "x", "tw": "x", "x": "x", "fb": "facebook", "facebook": "facebook", "tg": "telegram",
    "telegram": "telegram", "ig": "instagram", "insta": "instagram", "instagram": "instagram",
    "tt": "tiktok", "tiktok": "tiktok", "yt": "youtube", "youtube": "youtube", "li": "linkedin",
    "linkedin": "linkedin", "snap": "snapchat", "snapchat": "snapchat", "threads": "threads",
    "reddit": "reddit", "discord": "discord", "wa": "whatsapp", "whatsapp": "whatsapp",
    "skype": "skype", "github": "github", "gh": "github",
}  # fmt: skip
#: Our platform name -> STIX account-type-ov, where the vocabulary has the platform.
ACCOUNT_TYPES: Final = {"x": "twitter", "facebook": "facebook", "skype": "skype"}
#: account-type-ov's system and credential types: a victim's login, not a scammer's social account.
CREDENTIAL_TYPES: Final = frozenset(
    {"unix", "windows-local", "windows-domain", "ldap", "nis", "radius", "tacacs", "openid"}
)
_RULES: Final = {
    "telegram": re.compile(r"[a-z][a-z0-9_]{4,31}"),
    "instagram": re.compile(r"[a-z0-9._]{1,30}"),
    "threads": re.compile(r"[a-z0-9._]{1,30}"),
    "x": re.compile(r"[a-z0-9_]{1,15}"),
    "tiktok": re.compile(r"[a-z0-9._]{2,24}"),
    "facebook": re.compile(r"[a-z0-9]{1,50}"),
    "youtube": re.compile(r"[a-z0-9._-]{3,30}"),
    "linkedin": re.compile(r"[a-z0-9-]{3,100}"),
    "reddit": re.compile(r"[a-z0-9_-]{3,20}"),
    "snapchat": re.compile(r"[a-z0-9._-]{3,15}"),
    "discord": re.compile(r"[a-z0-9._]{2,32}"),
    "skype": re.compile(r"[a-z][a-z0-9.,_-]{5,31}|live:[a-z0-9._-]{1,64}"),
    "github": re.compile(r"(?=.{1,39}$)[a-z0-9]+(?:-[a-z0-9]+)*"),
}
_NUMERIC_ID: Final = (re.compile(r"[1-9][0-9]{0,19}"), "1-20 digits, no leading zero")
#: Platform -> (id rule, the rule in words). A listed platform missing here has no id form.
_ID_RULES: Final = {
    "x": _NUMERIC_ID,
    "facebook": _NUMERIC_ID,
    "telegram": _NUMERIC_ID,
    "instagram": _NUMERIC_ID,
    "threads": _NUMERIC_ID,
    "tiktok": _NUMERIC_ID,
    "github": _NUMERIC_ID,
    "discord": (re.compile(r"[1-9][0-9]{16,19}"), "17-20 digits (a snowflake)"),
    "youtube": (re.compile(r"UC[A-Za-z0-9_-]{22}"), "'UC' and 22 letters, digits, '-' or '_' (a channel id)"),
}
_OTHER_ID: Final = (re.compile(r"[0-9]{1,30}"), "1-30 digits")
_OTHER: Final = re.compile(r"[^\s/?#\x00-\x1f\x7f]{1,100}")
_PLATFORM: Final = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]{0,30})\s*:\s*(.+)$")
_ID_MARKER: Final = "id:"


def _canonical(platform: str, prop: str, name: str) -> Canonical:
    """The Canonical of an account named by ``prop`` (``account_login`` or ``user_id``)."""
    props = {"account_type": ACCOUNT_TYPES.get(platform, platform), prop: name}
    text = f"{platform}:{_ID_MARKER}{name}" if prop == "user_id" else f"{platform}:{name}"
    return Canonical(KIND, text, props, dict(props), dict(props), {"platform": platform})


def _by_id(platform: str, user_id: str, value: str) -> Canonical | Invalid:
    if platform not in _ID_RULES and platform in _RULES:
        return Invalid(KIND, value, f"a {platform} account has no numeric id here: give its handle")
    rule, words = _ID_RULES.get(platform, _OTHER_ID)
    if not rule.fullmatch(user_id):
        negative = platform == "telegram" and user_id.startswith("-")  # a Bot API group or channel id
        hint = " (for a group or channel give its public name)" if negative else ""
        return Invalid(
            KIND, value, f"{user_id!r} is not a valid {platform} id: {platform} ids are {words}{hint}"
        )
    return _canonical(platform, "user_id", user_id)


def _by_handle(platform: str, handle: str, value: str) -> Canonical | Invalid:
    handle = handle.lstrip("@")  # every leading @, so that the result canonicalises to itself
    if platform == "reddit" and handle[:2].lower() == "u/":
        handle = handle[2:]
    if platform == "skype":
        handle = handle.partition("?")[0]  # skype:name?call, the URI a "call me" button opens
    rule = _RULES.get(platform)
    if rule is None:
        if not _OTHER.fullmatch(handle):
            return Invalid(KIND, value, "a handle is 1-100 characters with no spaces, '/', '?' or '#'")
        if handle[:3].lower() == _ID_MARKER:
            return Invalid(
                KIND, value, "a handle may not start with 'id:': write platform:id:NUMBER for an id"
            )
        return _canonical(platform, "account_login", handle)
    handle = handle.lower()
    if platform == "facebook":
        handle = handle.replace(".", "")  # Facebook: "periods don't count as part of a username"
        if handle.isascii() and handle.isdigit():
            return _by_id(platform, handle, value)  # facebook.com/<digits> is the profile with that id
    if not rule.fullmatch(handle):
        return Invalid(KIND, value, f"{handle!r} is not a possible {platform} handle")
    return _canonical(platform, "account_login", handle)


def _account(platform: str, name: str, is_id: bool, value: str) -> Canonical | Invalid:
    platform = _ALIASES.get(platform.lower(), platform.lower())
    if platform == "whatsapp":
        return Invalid(KIND, value, "a WhatsApp account is a phone number: submit it as type phone")
    if platform in CREDENTIAL_TYPES:
        what = "a sign-in identity" if platform == "openid" else "a system credential"
        article = "an" if platform in ("ldap", "openid") else "a"
        return Invalid(
            KIND,
            value,
            f"{article} {platform} account is {what} (a victim's, typically), not a scam social account: "
            "report the platform account the scammer used",
        )
    name = name.strip()
    return _by_id(platform, name, value) if is_id else _by_handle(platform, name, value)


@functools.lru_cache(maxsize=CACHE_SIZE)
def canonicalize(value: str, country: str | None) -> Canonical | Invalid:
    """Canonical ``user-account`` (see the module docstring). ``country`` is ignored."""
    text = value.strip()
    ref = from_url(text)
    if isinstance(ref, str):
        return Invalid(KIND, value, ref)
    if ref is not None:
        return _account(ref.platform, ref.name, ref.is_id, value)
    prefixed = _PLATFORM.match(text)
    if prefixed and not prefixed.group(2).startswith("//"):
        platform, rest = prefixed.groups()
        if rest[: len(_ID_MARKER)].lower() == _ID_MARKER:
            return _account(platform, rest[len(_ID_MARKER) :], True, value)
        return _account(platform, rest, False, value)
    if text.startswith("@"):
        return Invalid(KIND, value, "a handle needs its platform: write platform:handle, e.g. telegram:@name")
    return Invalid(
        KIND, value, "expected platform:handle, platform:id:NUMBER or a profile URL, e.g. telegram:@name"
    )


def _from_stix(props: Mapping[str, str]) -> str | None:
    """The raw value of a user-account pattern or observable: ``type:login``, else ``type:id:user_id``.

    The login wins when both are present; the id is never read as a handle. A login spelled like the id
    marker (``id:5``) is passed as ``@id:5``, so that it is judged as the handle it is (and refused).
    """
    account_type, login, user_id = props.get("account_type"), props.get("account_login"), props.get("user_id")
    if not account_type:
        return None
    if login:
        return f"{account_type}:@{login}" if login[:3].lower() == _ID_MARKER else f"{account_type}:{login}"
    if user_id:
        return f"{account_type}:{_ID_MARKER}{user_id}"
    return None


DECLARATION: Final = Kind(
    name=KIND,
    sco_type=SCO_TYPE,
    canonicalize=canonicalize,
    id_properties=ID_PROPERTIES,
    pattern_properties=ID_PROPERTIES,
    half_life_days=60,
    enrichers=("facts",),
    stix_input=StixInput(
        ("account_type", "account_login", "user_id"),
        _from_stix,
        "user-account needs account_type, and account_login or user_id",
    ),
    example="https://t.me/ScamBot",
    aliases=(SCO_TYPE, "social-account"),
    misp_types={},
)

__all__ = ["ACCOUNT_TYPES", "CREDENTIAL_TYPES", "DECLARATION", "canonicalize"]
