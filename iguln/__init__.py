"""iguln: machine unlearning for image-to-image generative models."""

__version__ = "0.1.0"
