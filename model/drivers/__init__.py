"""KHO users and operators: the tasks that drive a KHO design in the scenarios."""
