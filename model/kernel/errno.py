"""Error numbers the models return, with the values of include/uapi/asm-generic/errno-base.h."""

EPERM = 1
ENOENT = 2
EAGAIN = 11
EINVAL = 22
ENOMEM = 12
EBUSY = 16
EEXIST = 17
EOPNOTSUPP = 95
EADDRNOTAVAIL = 99

NAMES = {EPERM: "EPERM", ENOENT: "ENOENT", EAGAIN: "EAGAIN", EINVAL: "EINVAL", ENOMEM: "ENOMEM",
         EBUSY: "EBUSY",
         EEXIST: "EEXIST", EOPNOTSUPP: "EOPNOTSUPP", EADDRNOTAVAIL: "EADDRNOTAVAIL"}


def errname(ret: int) -> str:
    """``-16`` -> ``"-EBUSY"``; other values as they are.

    >>> errname(-16), errname(0)
    ('-EBUSY', '0')
    """
    if ret < 0 and -ret in NAMES:
        return "-" + NAMES[-ret]
    return str(ret)
