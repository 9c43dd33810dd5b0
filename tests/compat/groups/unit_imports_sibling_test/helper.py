STEP = "imported"
