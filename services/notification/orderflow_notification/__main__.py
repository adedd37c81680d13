"""`python -m orderflow_notification`: run the notification service."""

from orderflow_notification import main

main.main()
