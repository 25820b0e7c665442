"""The faust worker: the app factory, its runtime and the I/O steps its agents call."""
