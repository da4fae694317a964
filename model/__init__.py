"""khomc: a concurrency model checker of Linux Kexec HandOver (KHO) designs."""

__version__ = "0.1.0"
