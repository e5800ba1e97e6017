"""Unlearning: the paper's loss (and, later, the baselines) and the step-based training engine."""
