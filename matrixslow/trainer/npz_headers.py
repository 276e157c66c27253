"""Read an .npz archive member by member: first every .npy header, then only the data the caller accepted.

``np.load`` decompresses a member before anyone can look at its shape, so a
1 MiB archive holding a 1 GiB member costs a gigabyte before it can be refused.
Here each member's header (shape, dtype) is read alone, and its declared size is
checked against the size the zip directory records for it, so that the caller can
compare the header with the model file before a byte of data is decompressed.
``zipfile`` never decompresses past a member's recorded size, so the data read is
what the accepted header declares.
"""

import io
import math
import zipfile
from dataclasses import dataclass

import numpy as np

from .errors import ModelFileError

_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


@dataclass(frozen=True)
class MemberHeader:
    """What the .npy header of one archive member declares."""

    member: str
    shape: tuple
    dtype: np.dtype

    @property
    def pickled(self):
        """Whether the member holds Python objects (pickled), not numbers."""
        return self.dtype.hasobject

    @property
    def elements(self):
        return math.prod(self.shape)


class NpzMembers:
    """An .npz archive held in memory: its members' headers, and their arrays on request.

    Parameters
    ----------
    data : bytes
        The archive.
    path : path
        Names the file in error messages.

    Raises
    ------
    ModelFileError
        For bytes that are no zip archive, a member that is no .npy data, a header
        that cannot be read, or a member whose recorded size is not what its header
        declares; each names the file and the member.
    """

    def __init__(self, data, path):
        self.path = path
        if data.startswith(np.lib.format.MAGIC_PREFIX):
            raise ModelFileError(f"{path}: holds a single .npy array, not an .npz archive of named weights")
        try:
            self._archive = zipfile.ZipFile(io.BytesIO(data))
            infos = self._archive.infolist()
        except Exception as error:  # whatever these bytes make the zip parser raise, the file is unreadable
            raise ModelFileError(
                f"{path}: not a readable .npz weights file; it is truncated or corrupt ({error})"
            ) from error
        self.headers = {}
        for info in infos:
            name = info.filename.removesuffix(".npy")
            if name in self.headers:
                raise ModelFileError(f"{path}: member '{info.filename}' appears twice in the archive")
            self.headers[name] = self._read_header(info)

    def _read_header(self, info):
        where = f"{self.path}: member '{info.filename}'"
        try:
            with self._archive.open(info) as handle:
                version = np.lib.format.read_magic(handle)
                read_header = _HEADER_READERS.get(version)
                if read_header is None:
                    raise ModelFileError(f"{where} is .npy version {version}, which np.savez does not write")
                shape, _, dtype = read_header(handle)
                header_bytes = handle.tell()
        except ModelFileError:
            raise
        except Exception as error:  # a raw pickle, a cut-off member, a header that is no dict: not .npy data
            raise ModelFileError(f"{where} is not .npy data ({type(error).__name__}: {error})") from error
        header = MemberHeader(info.filename, shape, dtype)
        if not header.pickled:
            declared = header_bytes + header.elements * dtype.itemsize
            if info.file_size != declared:
                raise ModelFileError(
                    f"{where} holds {info.file_size} bytes, but its header declares shape {shape} of {dtype} "
                    f"({declared} bytes); it is corrupt or built to mislead"
                )
        return header

    def read(self, name):
        """The array of member ``name``, whose header the caller has accepted; never unpickles."""
        header = self.headers[name]
        try:
            with self._archive.open(header.member) as handle:
                value = np.lib.format.read_array(handle, allow_pickle=False)
                # Reading on to the end makes zipfile check the member's CRC.
                if handle.read(1):
                    raise ValueError("data goes on after the array")
        except MemoryError:
            raise
        except Exception as error:  # pickled objects (refused), a bad CRC, a cut-off member
            raise ModelFileError(f"{self.path}: array '{name}' cannot be read ({error})") from error
        return value

    def close(self):
        self._archive.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
