"""orderflow's payment service."""
