"""Reads against a bare page of the same rows (issue 11): see bench/README.md."""
