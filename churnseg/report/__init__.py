"""Outputs for people: the priority page, CSV export, segment summary and evaluation figures."""
