"""Listeners of the dev Apache Kafka (:mod:`pipeline.dev.kafka`), and its secure mode: SCRAM and ACLs.

By default every node has two PLAINTEXT listeners on loopback: ``BROKER`` (clients and replication) and
``CONTROLLER`` (the KRaft quorum). ``KafkaCluster(..., secure=True)`` changes them to:

* the client listener ``BROKER`` as ``SASL_PLAINTEXT`` with ``SCRAM-SHA-512`` only; the brokers replicate
  over it too, logged in as the super user ``admin`` (``sasl.mechanism.inter.broker.protocol``);
* the KRaft listener ``CONTROLLER`` as ``SASL_PLAINTEXT`` with ``PLAIN`` (a static ``user_admin`` entry in
  the listener's JAAS config), so the quorum and the broker-to-controller channel also run as
  ``User:admin``. PLAINTEXT there would make them ``User:ANONYMOUS``, which then had to be a super user
  (tried: the node's own ControllerRegistration is refused and it never gets ready). Not SCRAM either:
  the SCRAM credentials live in the metadata log the controllers replicate, so three voters cannot log in
  to each other before that log exists (tried on Kafka 4.4: one node starts; three fail "authentication
  ... invalid credentials with SASL mechanism SCRAM-SHA-512" and never elect a leader);
* ``authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer`` with
  ``allow.everyone.if.no.acl.found=false`` and ``super.users=User:admin``.

The admin's SCRAM credential is written into the metadata log when storage is formatted
(``StorageTool format --add-scram 'SCRAM-SHA-512=[name=admin,password=...]'``), so it exists before any
node serves. The password is random per start (:attr:`KafkaSecurity.admin_password`, hex: no character
that StorageTool's ``[name=...,password=...]`` syntax or a JAAS string would need quoted).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from pipeline.identity.credentials import SCRAM_MECHANISM, scram_options

HOST: Final = "127.0.0.1"
AUTHORIZER: Final = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
ADMIN_USER: Final = "admin"
_SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN_LOGIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


def listener_config(
    broker_port: int, controller_port: int, security: KafkaSecurity | None = None
) -> dict[str, str]:
    """Listeners of one node: clients and brokers on BROKER, the KRaft quorum on CONTROLLER, on loopback.

    PLAINTEXT without ``security``; with it, SASL on both and the authorizer (module docstring).
    """
    both = f"BROKER://{HOST}:{broker_port},CONTROLLER://{HOST}:{controller_port}"
    plain = {
        "listeners": both,
        "advertised.listeners": both,
        "listener.security.protocol.map": "BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "BROKER",
        "controller.listener.names": "CONTROLLER",
    }
    return plain if security is None else {**plain, **security.listener_config()}


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """The super user's name and password of one secure cluster start, and what they configure."""

    admin_password: str
    admin_user: str = ADMIN_USER

    @classmethod
    def generate(cls) -> KafkaSecurity:
        """A fresh random admin password (128 bits, hex)."""
        return cls(admin_password=secrets.token_hex(16))

    def listener_config(self) -> dict[str, str]:
        """The ``server.properties`` entries that secure the BROKER and CONTROLLER listeners."""
        user, password = self.admin_user, self.admin_password
        scram = f'{_SCRAM_LOGIN} required username="{user}" password="{password}";'
        plain = f'{_PLAIN_LOGIN} required username="{user}" password="{password}" user_{user}="{password}";'
        return {
            "listener.security.protocol.map": "BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            "listener.name.broker.sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "listener.name.broker.scram-sha-512.sasl.jaas.config": scram,
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": plain,
            "sasl.mechanism.controller.protocol": "PLAIN",
            "authorizer.class.name": AUTHORIZER,
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{user}",
        }

    def format_args(self) -> list[str]:
        """Extra ``StorageTool format`` arguments: the admin's SCRAM credential in the first metadata."""
        return ["--add-scram", f"{SCRAM_MECHANISM}=[name={self.admin_user},password={self.admin_password}]"]

    def admin_options(self) -> dict[str, str]:
        """librdkafka options of a client logged in as the super user."""
        return scram_options(self.admin_user, self.admin_password)
