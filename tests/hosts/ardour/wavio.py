"""Minimal WAV I/O for 32-bit float files (what Ardour records and exports).

Reading maps the data chunk with numpy.memmap, so a 20-minute stereo export costs no
memory until it is looked at. Writing produces a plain WAVE_FORMAT_IEEE_FLOAT file.
"""
import struct

import numpy as np

WAVE_FORMAT_PCM = 1
WAVE_FORMAT_IEEE_FLOAT = 3
WAVE_FORMAT_EXTENSIBLE = 0xFFFE


def read(path):
    """Returns (rate, frames) with frames a read-only float32 array of shape (n, channels)."""
    with open(path, "rb") as f:
        riff, _, wave = struct.unpack("<4sI4s", f.read(12))
        if riff not in (b"RIFF", b"RF64") or wave != b"WAVE":
            raise ValueError(f"{path}: not a WAV file")
        fmt = None
        ds64_data_size = None
        while True:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError(f"{path}: no data chunk")
            cid, size = struct.unpack("<4sI", head)
            if cid == b"fmt ":
                fmt = f.read(size)
            elif cid == b"ds64":
                ds64_data_size = struct.unpack("<QQ", f.read(16))[1]
                f.seek(size - 16, 1)
            elif cid == b"data":
                offset = f.tell()
                if size == 0xFFFFFFFF and ds64_data_size is not None:
                    size = ds64_data_size
                break
            else:
                f.seek(size + (size & 1), 1)
    if fmt is None:
        raise ValueError(f"{path}: no fmt chunk")
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == WAVE_FORMAT_EXTENSIBLE:
        tag = struct.unpack("<H", fmt[24:26])[0]
    if tag != WAVE_FORMAT_IEEE_FLOAT or bits != 32:
        raise ValueError(f"{path}: not 32-bit float (format {tag}, {bits} bits)")
    n = size // (4 * channels)
    data = np.memmap(path, dtype="<f4", mode="r", offset=offset, shape=(n, channels))
    return rate, data


def write(path, rate, samples):
    """Writes a mono or (n, channels) float32 array as a 32-bit float WAV."""
    x = np.asarray(samples, dtype="<f4")
    if x.ndim == 1:
        x = x[:, None]
    n, channels = x.shape
    data_bytes = n * channels * 4
    fmt = struct.pack("<HHIIHH", WAVE_FORMAT_IEEE_FLOAT, channels, rate,
                      rate * channels * 4, channels * 4, 32)
    with open(path, "wb") as f:
        f.write(struct.pack("<4sI4s", b"RIFF", 4 + (8 + len(fmt)) + 12 + (8 + data_bytes), b"WAVE"))
        f.write(struct.pack("<4sI", b"fmt ", len(fmt)) + fmt)
        f.write(struct.pack("<4sII", b"fact", 4, n))
        f.write(struct.pack("<4sI", b"data", data_bytes))
        x.tofile(f)


def frames(path):
    """Number of frames in a 32-bit float WAV."""
    return read(path)[1].shape[0]
