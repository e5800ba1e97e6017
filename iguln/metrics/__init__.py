"""Metrics: feature backbones (domain judge, Inception-V3, CLIP) and FID / IS / embedding similarity."""
