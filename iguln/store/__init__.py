"""The store and every artefact iguln writes: generator and judge folders, features, checkpoints, result records."""
