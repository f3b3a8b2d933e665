"""Hub-side services: what sessions call instead of touching the store or raw data."""
