"""Training: the step engine, recipes and resumable checkpoints, shared by pretraining, the judge and unlearning."""
