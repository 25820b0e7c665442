"""Which organisation a client speaks for, and the topics that are its own."""

from __future__ import annotations

from pipeline.config import Settings
from pipeline.errors import ConfigError


def speaking_for(settings: Settings, org_id: str | None) -> str:
    """The organisation a client speaks for: ``org_id``, else the settings' (credentials file or ``org``).

    Raises ConfigError when neither names one, or when they disagree (credentials of one organisation used
    to speak for another would be refused by the broker, and by the pipeline where the broker has no ACLs).
    """
    configured = settings.org_id
    if org_id is None:
        if configured is None:
            raise ConfigError("no organisation: pass --org / SCAMSHARE_ORG, or --credentials FILE")
        return configured
    if configured is not None and configured != org_id:
        raise ConfigError(f"these credentials are {configured!r}'s: they cannot speak for {org_id!r}")
    return org_id
