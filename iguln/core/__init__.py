"""What every other room uses: errors, atomic files, seeds, registries, processes, downloads, loggers."""
