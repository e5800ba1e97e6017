"""The diffusion family: Palette's conditional UNet (diffusers), its noise schedule, DDIM filling, Palette's weights."""

from iguln.models.diffusion.family import Diffusion

__all__ = ["Diffusion"]
