"""What crosses the wire: submission envelope, headers, sightings, limits, ``Rejected``, the schemas."""
