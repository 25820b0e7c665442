"""``python -m pipeline`` is ``scamshare``."""

from pipeline.cli import main

main()
