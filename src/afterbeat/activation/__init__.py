"""Activation relative to the person's own baseline: settings, index, watch, recovery (pure)."""
