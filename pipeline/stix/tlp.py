"""Traffic Light Protocol markings.

Everything is normalised to TLP 2.0 on ingest. TLP 1.0 ids, OpenCTI's own AMBER+STRICT id and plain names
("amber", "TLP:AMBER+STRICT", "white") are accepted. python-stix2 rejects TLP 2.0 objects, so the marking
definitions are built here as plain dicts (the OASIS objects, byte for byte).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"


class TLP(IntEnum):
    """TLP 2.0 levels, ordered from least to most restrictive."""

    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        """The TLP 2.0 name as written in the marking extension: clear, green, amber, amber+strict, red."""
        return _LABELS[self]

    @property
    def marking_id(self) -> str:
        return TLP2_MARKING_IDS[self]

    def marking_definition(self) -> dict[str, Any]:
        """The OASIS TLP 2.0 marking-definition object for this level."""
        return {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": self.marking_id,
            "created": "2022-10-01T00:00:00.000Z",
            "name": f"TLP:{self.label.upper()}",
            "extensions": {
                TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": self.label}
            },
        }


_LABELS: dict[TLP, str] = {t: t.name.lower().replace("_", "+") for t in TLP}

TLP2_MARKING_IDS: dict[TLP, str] = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

_BY_MARKING_ID: dict[str, TLP] = {v: k for k, v in TLP2_MARKING_IDS.items()} | {
    # TLP 1.0 (STIX 2.1 spec, section 7.2.1.4)
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,  # WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
    # OpenCTI's own AMBER+STRICT, minted before TLP 2.0 objects existed
    "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37": TLP.AMBER_STRICT,
}

_BY_NAME: dict[str, TLP] = {
    "clear": TLP.CLEAR,
    "white": TLP.CLEAR,
    "green": TLP.GREEN,
    "amber": TLP.AMBER,
    "amber+strict": TLP.AMBER_STRICT,
    "amber_strict": TLP.AMBER_STRICT,
    "amber-strict": TLP.AMBER_STRICT,
    "red": TLP.RED,
}


def parse_tlp(value: str) -> TLP | None:
    """A TLP level from a marking-definition id or a name; ``None`` when it is neither.

    >>> parse_tlp("TLP:AMBER+STRICT")
    <TLP.AMBER_STRICT: 3>
    >>> parse_tlp("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9")
    <TLP.CLEAR: 0>
    """
    if value.startswith("marking-definition--"):
        return _BY_MARKING_ID.get(value)
    name = value.strip().lower()
    name = name.removeprefix("tlp:").removeprefix("tlp ").strip()
    return _BY_NAME.get(name)


def tlp_from_marking_refs(refs: list[str]) -> TLP | None:
    """The most restrictive TLP among a list of marking refs (unknown refs are ignored)."""
    levels = [lvl for ref in refs if (lvl := _BY_MARKING_ID.get(ref)) is not None]
    return max(levels) if levels else None
