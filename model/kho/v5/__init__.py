"""KHO v5, the seed (Lyu, 20250320015551.2157511-1-changyuanl@google.com): the kernel's files.

kexec_handover.py mirrors this kernel's half of kernel/kexec_handover.c as posted;
kexec_handover_in.py the next kernel's half (kho_in: kho_populate, node and property lookups,
kho_restore_folio).  The seed thread's proposals are eras on top of this one.
"""
