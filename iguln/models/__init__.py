"""Models: the generator interface, one file per family, checkpoints and the family registry."""
