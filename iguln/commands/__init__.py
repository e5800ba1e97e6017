"""The commands: thin compositions of data, models, unlearning and metrics. Each is a Hydra app over conf/."""
