"""`python -m orderflow_inventory`: run the inventory service."""

from orderflow_inventory import main

main.main()
