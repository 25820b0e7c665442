"""Social-media accounts as STIX ``user-account``: ``platform:handle``.

Input: ``platform:handle`` (``telegram:@ScamBot``, ``tg:scambot``, ``twitter:@Foo``), or a profile URL
(``https://t.me/handle``, ``https://www.facebook.com/handle``, ``facebook.com/profile.php?id=1000...``,
``https://instagram.com/handle/``, ``https://x.com/handle``, ``https://twitter.com/handle/status/1``,
``https://www.tiktok.com/@handle``, ``https://www.youtube.com/@handle``, ``https://www.threads.net/@h``,
``https://www.linkedin.com/in/slug``, ``https://www.reddit.com/user/name``, ``snapchat.com/add/name``).
A bare ``@handle`` is rejected: the platform is needed. ``wa.me`` and ``api.whatsapp.com`` links are
rejected: a WhatsApp account is a phone number, submit it as type phone.

Platform aliases: twitter/tw -> x, fb -> facebook, tg -> telegram, ig/insta -> instagram, tt -> tiktok,
yt -> youtube, li -> linkedin, snap -> snapchat.

Handles lose a leading ``@`` (``u/`` on Reddit). Case and character rules per platform:

============  =================  ======================================================
platform      case               handle rule
============  =================  ======================================================
telegram      folded             5-32 of ``a-z 0-9 _``, starts with a letter
instagram     folded             1-30 of ``a-z 0-9 . _``
threads       folded             as instagram (same accounts)
x             folded             1-15 of ``a-z 0-9 _``
tiktok        folded             2-24 of ``a-z 0-9 . _``
facebook      folded, dots drop  1-50 of ``a-z 0-9 .``, or a numeric profile id (Facebook ignores dots)
youtube       folded             3-30 of ``a-z 0-9 . _ -``
linkedin      folded             3-100 of ``a-z 0-9 -``
reddit        folded             3-20 of ``a-z 0-9 _ -``
snapchat      folded             3-15 of ``a-z 0-9 . _ -``
discord       folded             2-32 of ``a-z 0-9 . _`` (current unique usernames)
other         kept as written    1-100 characters, no spaces; the platform name is lower-cased
============  =================  ======================================================

>>> canonicalize("https://t.me/ScamSupport_Bot", None).value
'telegram:scamsupport_bot'
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qs, urlsplit

from pipeline.canon.core import Canonical, Invalid
from pipeline.canon.registry import Kind, StixInput

logger = logging.getLogger(__name__)

#: Results memoised per module (the function is pure): repeated reports of one value are the common case.
#: About 1.5 KB per entry, so 8,192 entries cost about 12 MB per kind at most.
CACHE_SIZE = 8192

KIND = "social"
SCO_TYPE: Final = "user-account"

_ALIASES = {
    "twitter": "x", "tw": "x", "x": "x", "fb": "facebook", "facebook": "facebook", "tg": "telegram",
    "telegram": "telegram", "ig": "instagram", "insta": "instagram", "instagram": "instagram",
    "tt": "tiktok", "tiktok": "tiktok", "yt": "youtube", "youtube": "youtube", "li": "linkedin",
    "linkedin": "linkedin", "snap": "snapchat", "snapchat": "snapchat", "threads": "threads",
    "reddit": "reddit", "discord": "discord", "wa": "whatsapp", "whatsapp": "whatsapp",
}  # fmt: skip
_RULES = {
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
}
_OTHER = re.compile(r"[^\s/?#]{1,100}")
_PLATFORM = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]{0,30})\s*:\s*(.+)$")
_HOSTS = {
    "t.me": "telegram", "telegram.me": "telegram", "telegram.dog": "telegram",
    "facebook.com": "facebook", "fb.com": "facebook", "m.facebook.com": "facebook",
    "mbasic.facebook.com": "facebook", "web.facebook.com": "facebook",
    "instagram.com": "instagram", "x.com": "x", "twitter.com": "x", "mobile.twitter.com": "x",
    "mobile.x.com": "x", "tiktok.com": "tiktok", "m.tiktok.com": "tiktok", "youtube.com": "youtube",
    "m.youtube.com": "youtube", "threads.net": "threads", "threads.com": "threads",
    "linkedin.com": "linkedin",
    "reddit.com": "reddit", "old.reddit.com": "reddit", "snapchat.com": "snapchat",
    "wa.me": "whatsapp", "api.whatsapp.com": "whatsapp", "chat.whatsapp.com": "whatsapp",
}  # fmt: skip
# First path segments that are site pages, not profiles.
_RESERVED = frozenset(
    [
        "home",
        "i",
        "search",
        "explore",
        "intent",
        "hashtag",
        "share",
        "sharer",
        "sharer.php",
        "login",
        "signup",
        "settings",
        "messages",
        "watch",
        "channel",
        "c",
        "user",
        "groups",
        "pages",
        "events",
        "marketplace",
        "reel",
        "reels",
        "p",
        "tv",
        "stories",
        "about",
        "help",
        "joinchat",
        "addstickers",
        "addlist",
        "s",
    ]
)
_URLISH = re.compile(r"^(?:https?://|//)?(?:www\.)?([a-z0-9.-]+\.[a-z]{2,})(?:[/?#]|$)", re.I)


def _from_url(text: str) -> tuple[str, str] | str | None:
    """(platform, raw handle) from a profile URL; a reason if it is a non-profile URL; None if no URL."""
    host_match = _URLISH.match(text)
    if not host_match:
        return None
    host = host_match.group(1).lower()
    platform = _HOSTS.get(host) or _HOSTS.get(host.removeprefix("www."))
    if platform is None:
        if "://" in text or "/" in text:
            return f"{host!r} is not a known social platform: write platform:handle, or submit it as type url"
        return None
    if platform == "whatsapp":
        return "a WhatsApp link is a phone number: submit the number as type phone"
    parts = urlsplit(text if "://" in text else "https://" + text.lstrip("/"))
    segments = [s for s in parts.path.split("/") if s]
    if platform == "facebook" and segments[:1] == ["profile.php"]:
        ids = parse_qs(parts.query).get("id")
        return (platform, ids[0]) if ids else "facebook profile.php link without an id"
    if platform == "linkedin" and len(segments) >= 2 and segments[0] in ("in", "company"):
        return platform, segments[1]
    if platform == "reddit" and len(segments) >= 2 and segments[0] in ("u", "user"):
        return platform, segments[1]
    if platform == "snapchat" and len(segments) >= 2 and segments[0] == "add":
        return platform, segments[1]
    if platform == "telegram" and segments[:1] == ["s"] and len(segments) >= 2:
        return platform, segments[1]  # t.me/s/<channel>: the public preview of a channel
    if not segments:
        return f"a {platform} link without an account name"
    first = segments[0]
    if platform == "telegram" and first.startswith(("+", "joinchat")):
        return "a Telegram invite link names no account: submit it as type url"
    if first.lower() in _RESERVED:
        return f"not a {platform} profile link ({first!r} is a site page): give the profile URL"
    if platform in ("tiktok", "youtube", "threads") and not first.startswith("@"):
        return f"a {platform} profile link has /@handle"
    return platform, first


def _account(platform: str, handle: str, value: str) -> Canonical | Invalid:
    platform = _ALIASES.get(platform.lower(), platform.lower())
    if platform == "whatsapp":
        return Invalid(KIND, value, "a WhatsApp account is a phone number: submit it as type phone")
    handle = handle.strip()
    handle = handle[1:] if handle.startswith("@") else handle
    if platform == "reddit" and handle[:2].lower() == "u/":
        handle = handle[2:]
    rule = _RULES.get(platform)
    if rule is None:
        if not _OTHER.fullmatch(handle):
            return Invalid(KIND, value, "a handle is 1-100 characters with no spaces, '/', '?' or '#'")
    else:
        handle = handle.lower()
        if platform == "facebook":
            handle = handle.replace(".", "")  # Facebook: "periods don't count as part of a username"
        if not rule.fullmatch(handle):
            return Invalid(KIND, value, f"{handle!r} is not a possible {platform} handle")
    login = f"{platform}:{handle}"
    props = {"account_type": platform, "account_login": handle, "user_id": handle}
    pattern_props = {"account_type": platform, "account_login": handle}
    return Canonical(KIND, login, props, dict(props), pattern_props, {"platform": platform})


@functools.lru_cache(maxsize=CACHE_SIZE)
def canonicalize(value: str, country: str | None) -> Canonical | Invalid:
    """Canonical ``user-account`` (see the module docstring). ``country`` is ignored."""
    text = value.strip()
    from_url = _from_url(text)
    if isinstance(from_url, str):
        return Invalid(KIND, value, from_url)
    if from_url is not None:
        return _account(*from_url, value)
    prefixed = _PLATFORM.match(text)
    if prefixed and not prefixed.group(2).startswith("//"):
        return _account(prefixed.group(1), prefixed.group(2), value)
    if text.startswith("@"):
        return Invalid(KIND, value, "a handle needs its platform: write platform:handle, e.g. telegram:@name")
    return Invalid(KIND, value, "expected platform:handle or a profile URL, e.g. telegram:@name")


def _from_stix(props: Mapping[str, str]) -> str | None:
    """The raw value of a user-account pattern or observable: ``account_type:account_login`` (or user_id)."""
    login = props.get("account_login") or props.get("user_id")
    if "account_type" not in props or not login:
        return None
    return f"{props['account_type']}:{login}"


DECLARATION: Final = Kind(
    name=KIND,
    sco_type=SCO_TYPE,
    canonicalize=canonicalize,
    id_properties=(("account_type", "account_login", "user_id"),),
    pattern_properties=(("account_type", "account_login"),),
    half_life_days=60,
    enrichers=("facts",),
    stix_input=StixInput(
        ("account_type", "account_login", "user_id"),
        _from_stix,
        "user-account needs account_type and account_login",
    ),
    example="https://t.me/ScamBot",
    aliases=(SCO_TYPE, "social-account"),
    misp_types={},
)

__all__ = ["DECLARATION", "canonicalize"]
