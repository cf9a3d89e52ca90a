"""VJ-VCR companion: data, models, losses, training, probes, analysis and plots."""
__version__ = "0.1.0"
