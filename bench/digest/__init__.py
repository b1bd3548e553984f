"""The weekly digest over a million feedback items (`python -m bench.digest.run`)."""
