"""Data: image sources (Debian IDX files, torchvision, class-per-folder trees), class splits, masks, batches."""
