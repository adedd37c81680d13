"""orderflow's notification service."""
