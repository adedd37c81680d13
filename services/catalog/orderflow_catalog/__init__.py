"""orderflow's catalog service."""
