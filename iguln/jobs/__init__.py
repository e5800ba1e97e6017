"""What a job does between its command and the rooms below: set-up, the original, pretraining, unlearning, scoring."""
