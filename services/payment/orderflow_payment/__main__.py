from orderflow_payment.main import main

main()
