"""orderflow's inventory service."""
