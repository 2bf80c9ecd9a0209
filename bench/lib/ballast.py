#!/usr/bin/env python3
"""Keep the page cache full, as it is on a broker host that has been up for a while.

    ballast.py top-up DIR KEEP_MB   fill free memory down to KEEP_MB with clean page cache
    ballast.py free-mb              print MemFree in MiB

Why: on this kind of VM (Firecracker, virtio-balloon free page reporting) memory the guest frees
is handed back to the host, and the next write into it faults on the host: copying into a fresh
page-cache page then costs ~2.4 CPU-s per GB (dd: 0.4 GB/s) instead of ~0.5 (dd: 2.3-3 GB/s when
the kernel recycles page cache it evicts). A broker that writes while memory is free pays that in
its own system time, and which broker of a pair gets the recycled pages depends on what ran just
before (Milena deletes a topic's files at once, Kafka 60 s later), so the produce ratios swung
from 0.6x to 1.4x between rounds. A host in production has no free memory: its page cache is full
and every new page is an evicted one. The ballast recreates that for both brokers alike.

The ballast is sparse files read once: their holes become clean, evictable page-cache pages and
take no disk space. Read once, they stay on the inactive list, so the kernel evicts them before
the pages a broker wrote and reads back (the consume backlog stays cached). Deleting DIR drops them.
"""
import os
import sys
import time


def mem_free_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemFree:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no MemFree in /proc/meminfo")


def top_up(directory, keep_mb):
    """Reads a new sparse file as large as MemFree - keep_mb; returns its size in MiB."""
    need = mem_free_mb() - keep_mb
    if need < 256:
        return 0
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"ballast-{time.time_ns()}")
    with open(path, "wb") as f:
        f.truncate(need << 20)
    fd = os.open(path, os.O_RDONLY)
    try:
        while os.read(fd, 1 << 20):
            pass
    finally:
        os.close(fd)
    return need


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "free-mb":
        print(mem_free_mb())
    elif len(sys.argv) == 4 and sys.argv[1] == "top-up":
        t0 = time.monotonic()
        added = top_up(sys.argv[2], int(sys.argv[3]))
        print(f"ballast: +{added} MiB in {time.monotonic() - t0:.1f} s, MemFree now {mem_free_mb()} MiB")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
