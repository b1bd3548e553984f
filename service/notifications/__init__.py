"""Reaching people: campaign steps and notifications by e-mail, chat and the intranet."""
