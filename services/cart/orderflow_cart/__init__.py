"""orderflow's cart service."""
