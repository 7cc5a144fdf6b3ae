"""Beats and heart-rate variability: beat timeline, artifacts, live and batch metrics (pure)."""
