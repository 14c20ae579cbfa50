"""Files the command line writes for the user, each whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_whole(files: dict[Path, bytes]) -> None:
    """Write files so that each appears whole: a temporary file beside it, then a rename."""
    for path, data in files.items():
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
