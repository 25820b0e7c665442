"""State: the records the pipeline keeps, the ``Store`` protocol, its Redis and in-memory stores."""
