"""Only what pyproject.toml cannot say: ``patchkit_follow.pth`` at the top of site-packages.

The file is the start-up hook that audits the Python children a ``python -m patchkit.audit``
run starts (see ``patchkit/audit/follow.py``). A ``.pth`` file works only at the top of
site-packages, beside the packages, where no ``package-data`` path can put it. As pytest-cov
shipped its ``pytest-cov.pth``, ``build`` copies it into the build folder's root, which is the
wheel's root; an editable install (PEP 660) builds its own wheel without running ``build``, so
the file is added to that wheel with its RECORD line. ``MANIFEST.in`` puts it in the sdist.
"""

import base64
import hashlib
import zipfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build import build
from setuptools.command.editable_wheel import editable_wheel

PTH = "patchkit_follow.pth"


class BuildWithPth(build):  # type: ignore[misc]
    """The regular build (``pip install .``, ``python -m build``), plus the start-up hook."""

    def run(self) -> None:
        super().run()
        self.copy_file(PTH, str(Path(self.build_lib, PTH)))


class EditableWheelWithPth(editable_wheel):  # type: ignore[misc]
    """The editable wheel (``pip install -e .``), plus the start-up hook."""

    def run(self) -> None:
        super().run()
        for wheel in Path(self.dist_dir).glob("*.editable-*.whl"):
            _add_to_wheel(wheel, PTH, Path(PTH).read_bytes())


def _add_to_wheel(wheel: Path, name: str, data: bytes) -> None:
    """Rewrite *wheel* with the file *name* at its root, listed in RECORD (which stays last)."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    new = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as old, zipfile.ZipFile(new, "w", zipfile.ZIP_DEFLATED) as out:
        records = [info for info in old.infolist() if info.filename.endswith(".dist-info/RECORD")]
        for info in old.infolist():
            if info not in records and info.filename != name:
                out.writestr(info, old.read(info))
        out.writestr(name, data)
        line = f"{name},sha256={digest},{len(data)}\n".encode()
        for record in records:
            out.writestr(record, old.read(record) + line)
    new.replace(wheel)


setup(cmdclass={"build": BuildWithPth, "editable_wheel": EditableWheelWithPth})
