"""Parity fixtures: facts computed by the reference code on small models, which tests compare iguln against."""
