"""Small example specs that exercise the engines (no KHO)."""
