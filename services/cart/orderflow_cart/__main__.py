"""`python -m orderflow_cart`: run the cart service."""

from orderflow_cart.main import main

main()
