"""The agent POS page (`/pos`): a till user signs in, sells a top-up or a bundle with the keyboard (number,
amount, Enter, Enter), prints a 58 mm receipt with its verification code, and sees the day's report."""
