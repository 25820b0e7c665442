"""The gateway: one authenticated HTTP service for those who will never run a Kafka client.

TAXII 2.1 (each subscription's feed as a read-only collection, materialised by fan-out; a write-only
``submissions`` collection), a real-time lookup API, and HTTP submissions and sightings. Every request's
organisation comes from its credential (an API key, or a client certificate verified by the TLS proxy in
front), never from the body. Built by :func:`pipeline.gateway.app.create_gateway`.
"""
