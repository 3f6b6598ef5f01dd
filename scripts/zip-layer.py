"""Zips a built layer (the directory layer/Makefile wrote) reproducibly: ``make dist`` runs it.

    python scripts/zip-layer.py LAYER_DIR OUT.zip

The same files give the same bytes, whatever their times, owners, umask or the order the file
system lists them in: entries in sorted order, every directory an entry of its own (each before
its contents, as an unzip that creates parents as it goes expects), every time the
SOURCE_DATE_EPOCH given, in UTC (zip keeps even seconds; default 1980-01-01, zip's first day),
modes normalised to 0755 for directories and executables (the extension's launcher: Lambda
starts it only if executable) and 0644 for the rest, and no extra fields. Deflate's output still
depends on zlib's version.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z: zip cannot store an earlier time
DOS_DIRECTORY = 0x10


def walk(root: Path) -> Iterator[Path]:
    """Every directory and file under ``root``, sorted, each directory before its contents."""
    for path in sorted(root.iterdir(), key=lambda p: p.name):
        if path.is_symlink() or not (path.is_dir() or path.is_file()):
            # A link would be stored as a file or lost; the layer has none, so one is a bug.
            raise ValueError(f"{path}: not a plain file or directory")
        yield path
        if path.is_dir():
            yield from walk(path)


def entry(path: Path, name: str, date_time: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time)
    info.create_system = 3  # Unix: unzip (and Lambda) apply the mode in external_attr
    if path.is_dir():
        info.external_attr = (stat.S_IFDIR | 0o755) << 16 | DOS_DIRECTORY
    else:
        mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
        info.external_attr = (stat.S_IFREG | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def zip_layer(root: Path, out: Path, epoch: int) -> int:
    """Writes ``out`` (through a temporary file: never a half-written zip); returns its entries."""
    date_time = time.gmtime(max(epoch, ZIP_EPOCH))[:6]
    partial = out.with_name(out.name + ".partial")
    count = 0
    try:
        with zipfile.ZipFile(partial, "w") as archive:
            for path in walk(root):
                name = path.relative_to(root).as_posix() + ("/" if path.is_dir() else "")
                data = b"" if path.is_dir() else path.read_bytes()
                archive.writestr(entry(path, name, date_time), data, compresslevel=9)
                count += 1
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/zip-layer.py", description=__doc__)
    parser.add_argument("layer", type=Path, help="the built layer: extensions/, python/...")
    parser.add_argument("out", type=Path, help="the zip to write")
    args = parser.parse_args(argv)
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or ZIP_EPOCH)
    count = zip_layer(args.layer, args.out, epoch)
    print(f"{args.out}: {count} entries, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
