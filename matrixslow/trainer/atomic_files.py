"""Replace several files so that a process killed at any point leaves the old set or the new set loadable.

Each file is first written in full to a temporary file beside its target
(``.{name}.{12 hex digits}.tmp``) and synced to disk. The last file is the commit
point. Until it is replaced, the previous version of every other file stays under a
second name tied to the commit file it was saved with (``kept_path``: a hard link,
so nothing is copied); a reader that finds a file torn from its commit file takes
that one. Then the temporaries replace their targets in order, the commit file
last, and the kept versions are dropped.

An exception puts back what was already replaced. A killed process leaves its
temporaries and kept files behind; ``remove_stale`` deletes them on a later save
or load. Only one process may save into a directory at a time.
"""

import contextlib
import hashlib
import os
import re
import secrets
import time

# A save renames its temporaries seconds after writing them; a file of the naming
# scheme left unchanged this long belongs to no save still running.
STALE_AFTER_SECONDS = 600


def commit_files(files):
    """Write each ``(path, data)`` atomically and in order; the last one is the commit point.

    All data first goes to temporary files beside the targets, so a failure while
    writing changes nothing. Then each temporary file replaces its target. The
    previous versions of all but the last target are kept (``kept_path``) until the
    last is replaced; should a replacement fail, the targets already replaced are put back.
    """
    *earlier, (commit_path, _) = files
    temporaries, replaced = [], []
    kept, created = {}, []  # target -> its kept previous version; the kept files this call made
    try:
        for path, data in files:
            temporaries.append(_temporary_name(path))
            _write_synced(temporaries[-1], data)
        # Read only when there is something to keep: a lone commit file may be large (optimizer state).
        previous_commit = _read_if_exists(commit_path) if earlier else None
        if previous_commit is not None:  # else there is no previous set to fall back to
            for path, _ in earlier:
                previous = kept_path(path, previous_commit)
                # One that exists already was left by a killed save from this same commit
                # file: it holds the version that belongs with it, ``path`` may not.
                if not previous.exists() and path.exists():
                    _keep(path, previous)
                    created.append(previous)
                if previous.exists():
                    kept[path] = previous
        for (path, _), temporary in zip(files, temporaries, strict=True):
            # Synced first, so that after a power cut no rename shows without those before it.
            _sync_directory(path.parent)
            os.replace(temporary, path)
            replaced.append(path)
    except BaseException:
        _roll_back(replaced, kept, created)
        raise
    finally:
        # Here and below, best effort: a file left behind is removed by remove_stale later,
        # while an error would hide the first one, or fail a save that has committed.
        for temporary in temporaries[len(replaced) :]:  # those not renamed onto their targets
            with contextlib.suppress(OSError):
                os.unlink(temporary)
    for previous in kept.values():
        with contextlib.suppress(OSError):
            os.unlink(previous)
    _sync_directory(commit_path.parent)


def kept_path(path, commit_bytes):
    """Where ``commit_files`` keeps the version of ``path`` that belongs with the commit file holding ``commit_bytes``.

    ``.{name}.{the first 16 hex digits of the commit file's sha256}.prev``: named
    after the commit file, so that its reader finds it and no other takes it.
    """
    return path.with_name(f".{path.name}.{hashlib.sha256(commit_bytes).hexdigest()[:16]}.prev")


def remove_stale(paths):
    """Delete what killed ``commit_files`` of ``paths`` (in commit order) left beside them.

    That is their temporaries, and the kept versions the current commit file does
    not need. Only files unchanged for ``STALE_AFTER_SECONDS`` go, so that a save
    running at the same time keeps its own. Best effort: errors are ignored (a
    read-only directory, a file another process removed first).
    """
    *earlier, commit_path = paths
    temporary = [rf"\.{re.escape(path.name)}\.[0-9a-f]{{12}}\.tmp" for path in paths]
    previous = [rf"\.{re.escape(path.name)}\.[0-9a-f]{{16}}\.prev" for path in earlier]
    stale = re.compile("|".join(temporary + previous))
    cutoff = time.time() - STALE_AFTER_SECONDS
    with contextlib.suppress(OSError):
        current = _read_if_exists(commit_path) if earlier else None
        needed = set() if current is None else {kept_path(path, current).name for path in earlier}
        with os.scandir(commit_path.parent) as entries:
            for entry in entries:
                if entry.name in needed or not stale.fullmatch(entry.name):
                    continue
                with contextlib.suppress(OSError):
                    # st_ctime, which making the hard link sets; st_mtime is when the old version was written.
                    if entry.stat(follow_symlinks=False).st_ctime <= cutoff:
                        os.unlink(entry.path)


def _roll_back(replaced, kept, created):
    """Put back the targets already replaced, and drop the kept files this commit made."""
    for path in reversed(replaced):
        # Best effort: should this fail, a reader still finds the kept version.
        with contextlib.suppress(OSError):
            if path in kept:
                os.replace(kept[path], path)
            else:  # it had no previous version worth keeping
                os.unlink(path)
    for previous in created:
        with contextlib.suppress(OSError):
            os.unlink(previous)


def _temporary_name(path):
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def _write_synced(path, data):
    # os.open with mode 0o666 gives the file the permissions the umask allows, as
    # open() would (a NamedTemporaryFile would be readable by its owner only).
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _read_if_exists(path):
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _keep(path, kept):
    """Give ``path`` the second name ``kept``: a hard link, else (a file system without them) a synced copy."""
    try:
        os.link(path, kept)
    except OSError:
        copy = _temporary_name(path)
        try:
            _write_synced(copy, path.read_bytes())
            os.replace(copy, kept)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(copy)


def _sync_directory(directory):
    """Make the renames durable (POSIX); some systems cannot sync a directory, which only costs durability."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
