"""Kernel primitives as khomc effects: locks, and (as the KHO eras need them) more."""
