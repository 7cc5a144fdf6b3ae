"""Resets: the library, pacing, choosing one, its effect, trends and the plan (pure)."""
