"""STIX 2.1 helpers that the hot path can afford: deterministic ids, TLP markings, fast object builders."""
