"""The developer's stack: embedded broker + Redis, the demo, benchmarks and synthetic data."""
