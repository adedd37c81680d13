"""`python -m orderflow_catalog`: run the catalog service."""

from orderflow_catalog import main

main.main()
