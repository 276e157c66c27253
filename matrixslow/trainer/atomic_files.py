"""Replace several files so that a crash leaves either all the old ones or all the new ones in place.

Each file is first written in full to a temporary file beside its target and
synced to disk; only then do the temporaries replace their targets, in order, so
the last file is the commit point. A failed replacement puts back the targets
already replaced, and the directory is synced at the end so the renames survive a crash.
"""

import contextlib
import os
import secrets
import shutil


def commit_files(files):
    """Write each ``(path, data)`` atomically and in order; the last one is the commit point.

    All data first goes to temporary files beside the targets, so a failure while
    writing changes nothing. Then each temporary file replaces its target; should
    a later replacement fail, the targets already replaced are put back.
    """
    temporaries, replaced = [], []
    try:
        for path, data in files:
            temporaries.append(_temporary_name(path))
            _write_synced(temporaries[-1], data)
        for (path, _), temporary in zip(files, temporaries, strict=True):
            replaced.append((path, _backup(path)))
            os.replace(temporary, path)
    except BaseException:
        for path, backup in reversed(replaced):
            # Best effort: if even this fails, the weights checksum still exposes the torn pair.
            with contextlib.suppress(OSError):
                if backup is None:
                    os.unlink(path)
                else:
                    os.replace(backup, path)
        raise
    finally:
        leftovers = temporaries + [backup for _, backup in replaced if backup is not None]
        for leftover in leftovers:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)
    _sync_directory(files[-1][0].parent)


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


def _backup(path):
    """A second name for the current ``path`` (a hard link, else a copy), or None when there is none."""
    if not path.exists():
        return None
    backup = _temporary_name(path)
    try:
        os.link(path, backup)
    except OSError:  # a file system without hard links
        shutil.copy2(path, backup)
    return backup


def _sync_directory(directory):
    """Make the renames durable (POSIX); some systems cannot sync a directory, which only costs durability."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
