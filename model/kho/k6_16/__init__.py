"""KHO as merged in 6.16 (torvalds/linux:kernel/kexec_handover.c@00c010e130e5): the kernel's files.

kexec_handover.py mirrors this kernel's half of kernel/kexec_handover.c (kho_out, preservation,
notifiers, finalize/abort, kho_fill_kimage); kexec_handover_in.py the next kernel's half (kho_in:
kho_populate, kho_retrieve_subtree, kho_restore_folio).  6.17 and 6.18 are commit ledgers on top.
"""
