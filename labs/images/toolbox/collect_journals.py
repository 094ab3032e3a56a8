"""The platform's journal collector, run as root in the learner's shell container.

labs.services.results runs it with ``python3 -I`` (no environment, no user site, nothing from
the working folder), so the learner can neither change nor stop it; it is root-owned and
read-only in the image. It walks the home folder through file descriptors, never following a
symbolic link, and reads only regular files the learner could read themself: root's reach shows
nothing the learner could not see.

Arguments: the home folder, the largest file and the most files to keep, the index to start
from and the characters to print at most. Prints one JSON line: the journals (zlib + base64;
long texts cut when a journal is large), newest first, from that index on, as many as fit, and
where the next page starts.
"""

import base64
import json
import os
import stat
import sys
import zlib

HOME, MAX_BYTES, MAX_FILES = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start, budget = int(sys.argv[4]), int(sys.argv[5])
MAX_DEPTH, MAX_ENTRIES, MAX_READS = 3, 5000, 200
owner = os.stat(HOME)
seen = reads = 0
found = []
journals_seen = 0  # every journal found, kept or not: the learner is told what was left out


def learner_may(st, bits):
    if st.st_uid == owner.st_uid:
        shift = 6
    elif st.st_gid == owner.st_gid:
        shift = 3
    else:
        shift = 0
    return (st.st_mode >> shift) & bits == bits


def shrink(value, depth=0):  # long texts cut; the platform keeps less of them anyway
    if isinstance(value, str):
        return value[:2000]
    if depth > 30:
        return None
    if isinstance(value, list):
        return [shrink(item, depth + 1) for item in value[:500]]
    if isinstance(value, dict):
        return {key: shrink(item, depth + 1) for key, item in list(value.items())[:500]}
    return value


def pack(data):
    return base64.b64encode(zlib.compress(data, 6)).decode()


def looks_like_journal(data):
    return (
        isinstance(data, dict)
        and isinstance(data.get("experiment"), dict)
        and "status" in data
        and ("run" in data or "steady_states" in data)
    )


def read(dir_fd, name):
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_BYTES or not learner_may(st, 4):
            return None, st
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return (b"".join(chunks) if size <= MAX_BYTES else None), st
    finally:
        os.close(fd)


def walk(dir_fd, prefix, depth):
    global seen, reads, journals_seen
    with os.scandir(dir_fd) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        seen += 1
        if seen > MAX_ENTRIES or reads > MAX_READS:
            return
        try:
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if depth >= MAX_DEPTH:
                    continue
                fd = os.open(
                    entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd
                )
                try:
                    if learner_may(os.fstat(fd), 5):
                        walk(fd, prefix + entry.name + "/", depth + 1)
                finally:
                    os.close(fd)
            elif entry.name.endswith(".json") and entry.is_file(follow_symlinks=False):
                reads += 1
                data, st = read(dir_fd, entry.name)
                if data is not None and looks_like_journal(json.loads(data)):
                    journals_seen += 1
                    found.append((-st.st_mtime, prefix + entry.name, st, data))
                    found.sort(key=lambda item: (item[0], item[1]))
                    del found[MAX_FILES:]  # only the newest are kept in memory
        except (OSError, ValueError, RecursionError):
            continue


home_fd = os.open(HOME, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
walk(home_fd, "", 0)
page, size, index = [], 0, start
while index < len(found):
    _, path, st, data = found[index]
    packed = pack(data)
    if len(packed) > budget // 2:
        packed = pack(json.dumps(shrink(json.loads(data))).encode())
    if size + len(packed) + len(path) + 100 > budget:
        if page:
            break
        page.append({"path": path, "too_big": True, "size": st.st_size})
    else:
        page.append({"path": path, "size": st.st_size, "mtime": st.st_mtime, "data": packed})
        size += len(packed) + len(path) + 100
    index += 1
print(
    json.dumps(
        {
            "total": len(found),
            "seen": journals_seen,
            "journals": page,
            "next": index if index < len(found) else None,
        }
    )
)
