"""Resource limits a grading process sets on itself before it runs a student's code.

Kept apart from :mod:`resilience_lab.grading` (which imports the Jupyter client)
so that the grading kernel's launcher and the answer process can import it in
milliseconds.
"""

import resource


def apply(memory: int, cpu: int, file_size: int) -> None:
    """Cap this process: ``memory`` bytes of address space (``RLIMIT_AS``: a memory
    bomb gets ``MemoryError`` or dies instead of starving the machine), ``cpu``
    seconds (a backstop behind the grader's wall-clock limits), ``file_size`` bytes
    per file written; 0 leaves that one unlimited. Never a core dump."""
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    if cpu > 0:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    if file_size > 0:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
