"""Robustness of an unlearned generator: a sweep over masks, and a relearning attack."""
