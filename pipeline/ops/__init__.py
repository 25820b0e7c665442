"""Operators: consumer lag, time lag, status rules, metrics export and the end-to-end canary."""
