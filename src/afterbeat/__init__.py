"""afterbeat: local, private heart-rate biofeedback for the hours after a therapy session.

A wellness tool for relaxation and self-reflection, not a medical device.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
