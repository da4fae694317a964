"""KHO in 6.19, the LUO era (torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd).

kexec_handover.py mirrors kernel/liveupdate/kexec_handover.c, both halves.
"""
