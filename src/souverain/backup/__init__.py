"""Backups of the suite's data: the agents on the hosts, and what `souverain backup` does."""
