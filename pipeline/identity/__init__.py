"""Who is speaking: the ACLs the registry implies, organisations' Kafka credentials, channel identity."""
