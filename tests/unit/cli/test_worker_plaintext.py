"""The worker refuses PLAINTEXT to a broker that is not on loopback unless told ``--insecure``: without
authentication nothing binds a topic to its organisation."""

from __future__ import annotations

import pytest

from pipeline.cli.worker import refuse_plaintext
from pipeline.config import Settings
from pipeline.errors import ConfigError


@pytest.mark.parametrize("bootstrap", ["kafka-1.example.net:9092", "127.0.0.1:9092,10.0.0.7:9092"])
def test_plaintext_to_a_remote_broker_is_refused(bootstrap: str) -> None:
    with pytest.raises(ConfigError, match=r"refusing PLAINTEXT to .*--insecure"):
        refuse_plaintext(Settings(bootstrap=bootstrap))


@pytest.mark.parametrize(
    "settings",
    [
        Settings(bootstrap="127.0.0.1:9092,localhost:9093"),  # the dev stack
        Settings(bootstrap="kafka:9092", insecure=True),  # said so
        Settings(bootstrap="kafka:9093", kafka_options={"security.protocol": "SASL_SSL"}),
        Settings(bootstrap="kafka:9093", kafka_options={"security.protocol": "ssl"}),
    ],
)
def test_loopback_insecure_or_authenticated_is_allowed(settings: Settings) -> None:
    refuse_plaintext(settings)
