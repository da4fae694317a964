"""KHO in 7.1, the radix tree handed over directly (torvalds/linux:kernel/liveupdate/
kexec_handover.c@019fc3687237).

kexec_handover.py mirrors kernel/liveupdate/kexec_handover.c, both halves.
"""
