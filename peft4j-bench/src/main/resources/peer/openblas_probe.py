"""Which OpenBLAS a torch process runs on, and with how many threads: shared by the peft4j peers."""

import ctypes


def loaded_openblas():
    """Path of the OpenBLAS library this process mapped, or None."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "libopenblas" in path:
                    return path
    except OSError:
        pass
    return None


def openblas_threads(path):
    """The thread count OpenBLAS itself reports, or None."""
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
        lib.openblas_get_num_threads.restype = ctypes.c_int
        return lib.openblas_get_num_threads()
    except (OSError, AttributeError):
        return None
