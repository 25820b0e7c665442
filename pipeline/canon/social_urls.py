"""Profile URLs of social platforms, read as (platform, handle) or (platform, numeric id).

Kept apart from :mod:`pipeline.canon.social` because it is the part that grows with every site layout
(``/@handle``, ``/in/slug``, ``profile.php?id=``); the account rules stay there. A URL that names an
account by its platform id (``facebook.com/profile.php?id=N``, ``x.com/i/user/N``, ``tg://user?id=N``,
``youtube.com/channel/UC...``, ``api.github.com/user/N``) gives the id, never a handle: an id read as a
handle would name somebody else's account (``x:1357111317`` is the X user called ``1357111317``).
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple
from urllib.parse import parse_qs, urlsplit


class Ref(NamedTuple):
    """An account named by a URL: ``name`` is the handle as written, or the platform id when ``is_id``."""

    platform: str
    name: str
    is_id: bool = False


HOSTS: Final = {
    "t.me": "telegram", "telegram.me": "telegram", "telegram.dog": "telegram",
    "facebook.com": "facebook", "fb.com": "facebook", "m.facebook.com": "facebook",
    "mbasic.facebook.com": "facebook", "web.facebook.com": "facebook",
    "instagram.com": "instagram", "x.com": "x", "twitter.com": "x", "mobile.twitter.com": "x",
    "mobile.x.com": "x", "tiktok.com": "tiktok", "m.tiktok.com": "tiktok", "youtube.com": "youtube",
    "m.youtube.com": "youtube", "threads.net": "threads", "threads.com": "threads",
    "linkedin.com": "linkedin",
    "reddit.com": "reddit", "old.reddit.com": "reddit", "snapchat.com": "snapchat",
    "github.com": "github", "api.github.com": "github",
    "wa.me": "whatsapp", "api.whatsapp.com": "whatsapp", "chat.whatsapp.com": "whatsapp",
}  # fmt: skip
# First path segments that are site pages, not profiles.
_RESERVED: Final = frozenset(
    {
        "home", "i", "search", "explore", "intent", "hashtag", "share", "sharer", "sharer.php", "login",
        "signup", "settings", "messages", "watch", "channel", "c", "user", "groups", "pages", "events",
        "marketplace", "reel", "reels", "p", "tv", "stories", "about", "help", "joinchat", "addstickers",
        "addlist", "s",
    }
)  # fmt: skip
# GitHub's own pages, besides those above (github.com/<name> is otherwise a user or an organisation).
_GITHUB_RESERVED: Final = frozenset(
    {
        "orgs", "organizations", "features", "topics", "collections", "trending", "sponsors", "apps",
        "notifications", "new", "pulls", "issues", "codespaces", "enterprise", "pricing", "security",
        "site", "readme", "contact", "team", "customer-stories", "join", "users",
    }
)  # fmt: skip
_URLISH: Final = re.compile(r"^(?:https?://|//)?(?:www\.)?([a-z0-9.-]+\.[a-z]{2,})(?:[/?#]|$)", re.I)
_TG_URI: Final = re.compile(r"^tg://(resolve|user)\?(.*)$", re.I)


def _query(query: str, name: str) -> str | None:
    values = parse_qs(query).get(name)
    return values[0] if values else None


def _telegram_uri(text: str) -> Ref | str | None:
    """``tg://resolve?domain=name`` and ``tg://user?id=N``, the links Telegram apps open."""
    match = _TG_URI.match(text)
    if match is None:
        return None
    what, query = match.group(1).lower(), match.group(2)
    found = _query(query, "domain" if what == "resolve" else "id")
    if found is None:
        return f"a tg://{what} link without its {'domain' if what == 'resolve' else 'id'}"
    return Ref("telegram", found, is_id=what == "user")


def _by_layout(platform: str, segments: list[str], query: str) -> Ref | str | None:
    """Accounts that a platform's URL layout names in other places than the first path segment."""
    first, second = [*segments, "", ""][:2]
    if platform == "facebook" and first == "profile.php":
        found = _query(query, "id")
        return Ref(platform, found, is_id=True) if found else "facebook profile.php link without an id"
    if platform == "facebook" and first == "people" and len(segments) >= 3:
        return Ref(platform, segments[2], is_id=True)  # facebook.com/people/<display name>/<id>
    if platform == "x" and first == "i" and second == "user" and len(segments) >= 3:
        return Ref(platform, segments[2], is_id=True)
    if platform == "x" and first == "intent" and second in ("user", "follow"):
        found_id, found_name = _query(query, "user_id"), _query(query, "screen_name")
        if found_id:
            return Ref(platform, found_id, is_id=True)
        return Ref(platform, found_name) if found_name else "an X intent link without user_id or screen_name"
    if platform == "youtube" and first == "channel" and second:
        return Ref(platform, second, is_id=True)
    if platform == "github" and first in ("user", "users") and second:
        return Ref(platform, second, is_id=first == "user")  # api.github.com/user/<id>, /users/<login>
    if platform == "linkedin" and first in ("in", "company") and second:
        return Ref(platform, second)
    if platform == "reddit" and first in ("u", "user") and second:
        return Ref(platform, second)
    if platform == "snapchat" and first == "add" and second:
        return Ref(platform, second)
    if platform == "telegram" and first == "s" and second:
        return Ref(platform, second)  # t.me/s/<channel>: the public preview of a channel
    return None


def from_url(text: str) -> Ref | str | None:
    """The account a profile URL names; a reason if it is a non-profile URL; None if it is no URL."""
    telegram = _telegram_uri(text)
    if telegram is not None:
        return telegram
    host_match = _URLISH.match(text)
    if not host_match:
        return None
    host = host_match.group(1).lower()
    platform = HOSTS.get(host) or HOSTS.get(host.removeprefix("www."))
    if platform is None:
        if "://" in text or "/" in text:
            return f"{host!r} is not a known social platform: write platform:handle, or submit it as type url"
        return None
    if platform == "whatsapp":
        return "a WhatsApp link is a phone number: submit the number as type phone"
    parts = urlsplit(text if "://" in text else "https://" + text.lstrip("/"))
    segments = [s for s in parts.path.split("/") if s]
    by_layout = _by_layout(platform, segments, parts.query)
    if by_layout is not None:
        return by_layout
    if not segments:
        return f"a {platform} link without an account name"
    first = segments[0]
    if platform == "telegram" and first.startswith(("+", "joinchat")):
        return "a Telegram invite link names no account: submit it as type url"
    if first.lower() in _RESERVED or (platform == "github" and first.lower() in _GITHUB_RESERVED):
        return f"not a {platform} profile link ({first!r} is a site page): give the profile URL"
    if platform in ("tiktok", "youtube", "threads") and not first.startswith("@"):
        return f"a {platform} profile link has /@handle"
    return Ref(platform, first)


__all__ = ["HOSTS", "Ref", "from_url"]
