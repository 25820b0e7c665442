"""An organisation's Kafka login: its password, its librdkafka options and the credentials file.

The file is what :func:`pipeline.config.read_credentials` reads (``Settings(credentials_file=...)``)::

    {"org": "bank", "bootstrap": "kafka-1:9092",
     "kafka_options": {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                       "sasl.username": "bank", "sasl.password": "..."}}
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

SCRAM_MECHANISM: Final = "SCRAM-SHA-512"


def new_password() -> str:
    """A strong random password (256 bits, URL-safe base64: no quoting needed in JSON or JAAS)."""
    return secrets.token_urlsafe(32)


def scram_options(user: str, password: str, protocol: str = "SASL_PLAINTEXT") -> dict[str, str]:
    """librdkafka options that log ``user`` in with SCRAM-SHA-512 (``SASL_SSL`` outside a dev machine)."""
    return {
        "security.protocol": protocol,
        "sasl.mechanism": SCRAM_MECHANISM,
        "sasl.username": user,
        "sasl.password": password,
    }


def write_credentials(path: Path, org_id: str, bootstrap: str | None, options: Mapping[str, str]) -> Path:
    """Write an organisation's credentials file, mode 0600; returns its path.

    ``options`` are librdkafka options, e.g. :func:`scram_options`. The file is replaced atomically (a
    temporary file in the same folder, created 0600, then renamed), so it is never readable by others or
    half written, even for a moment.
    """
    bad = [repr(k) for k, v in options.items() if not (isinstance(k, str) and isinstance(v, str))]
    if bad:
        raise ValueError(f"credentials options must map strings to strings: {', '.join(bad)}")
    doc = {"org": org_id, "bootstrap": bootstrap, "kafka_options": dict(options)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, indent=2, sort_keys=True)
            out.write("\n")
        os.chmod(tmp, 0o600)  # mkstemp already did; say so explicitly for an umask-proof result
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
