"""KHO v4 (Rapoport, 20250206132754.2596694-1-rppt@kernel.org): one package, the kernel's files.

kexec_handover.py mirrors kernel/kexec_handover.c of the posted series (this kernel and the next).
"""
