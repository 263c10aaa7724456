"""souverain: deploy a sovereign digital workplace and prove what was deployed."""

__version__ = "0.1.0"
