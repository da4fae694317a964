"""Engines: they explore a model's states through :class:`khomc.runtime.Stepper` only."""
