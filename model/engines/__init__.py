"""Engines: they explore a model's states through :class:`model.runtime.Stepper` only."""
