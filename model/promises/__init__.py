"""KHO's promises as named properties (always / at handover / eventually / sometimes), per era
family: v5 (and v4), 6.16-6.18, the LUO eras, the seed thread's proposals.

Same layer as model/scenarios/: above drivers and eras, below engines.
"""
