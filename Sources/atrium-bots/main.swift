print("atrium-bots")
