"""iguln: machine unlearning for image-to-image generative models."""

from iguln.core.cpu_isa import pin as _pin_cpu_isa

_pin_cpu_isa()  # before torch is imported: the CPU kernels' vector instructions (iguln/core/cpu_isa.py)

__version__ = "0.1.0"
