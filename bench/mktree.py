#!/usr/bin/env python3
"""Write a synthetic layer tree: N regular files spread over nested directories, with a few
setuid files, executables and symlinks, like a large application layer.

usage: mktree.py DIR N SEED
"""
import os
import random
import sys

root, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
os.makedirs(root, exist_ok=True)
per_dir = 200
made = 0
d = 0
while made < count:
    sub = os.path.join(root, f"opt/app{seed}/mod{d // 50:04d}/pkg{d % 50:02d}")
    os.makedirs(sub, exist_ok=True)
    for i in range(min(per_dir, count - made)):
        p = os.path.join(sub, f"file{i:03d}.dat")
        fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        if i % 50 == 0:
            os.write(fd, b"x" * rng.randrange(1, 4096))
        os.close(fd)
        if i % 97 == 0:
            os.chmod(p, 0o755)
        if i == 13 and d % 500 == 0:
            os.chmod(p, 0o4755)
        made += 1
    os.symlink("file000.dat", os.path.join(sub, "current"))
    made += 1
    d += 1
