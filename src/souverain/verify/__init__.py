"""`souverain verify`: each deployed role's testinfra suite, run against the hosts carrying it."""
