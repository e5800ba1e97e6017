"""The VQ-GAN family: tokenizer, token transformer, iterative decoding, and MAGE's weights."""

from iguln.models.vqgan.family import VQGAN

__all__ = ["VQGAN"]
