"""The one Kafka I/O layer: client factories, sending with acknowledgement, topics, faust transport."""
