import sys
import time

time.sleep(0.5)
sys.exit(0)  # gone without a word
