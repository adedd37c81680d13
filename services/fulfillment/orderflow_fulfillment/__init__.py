"""orderflow's fulfillment service."""
