from orderflow_fulfillment.main import main

main()
