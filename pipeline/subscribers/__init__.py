"""Subscribers: subscriptions, delivery to their channels, backfill, the consumer SDK and sightings."""
