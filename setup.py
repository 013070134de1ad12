"""Only what pyproject.toml cannot say: the editable install also gets the start-up hook.

``patchkit_follow.pth`` (the hook that audits Python children a ``python -m patchkit.audit``
run starts, see ``patchkit/audit/follow.py``) is installed beside the package by
``package-data`` in pyproject.toml; an editable install builds its own wheel, into which
the same file is added here, as coverage.py does for its own ``.pth`` file.
"""

import zipfile
from pathlib import Path

from setuptools import setup
from setuptools.command.editable_wheel import editable_wheel

PTH = "patchkit_follow.pth"


class EditableWheelWithPth(editable_wheel):  # type: ignore[misc]
    """The editable wheel, plus the start-up hook."""

    def run(self) -> None:
        super().run()
        for wheel in Path(self.dist_dir).glob("*editable*.whl"):
            with zipfile.ZipFile(wheel, "a") as archive:
                archive.write(PTH, PTH)


setup(cmdclass={"editable_wheel": EditableWheelWithPth})
