"""Check the layer contracts of pyproject.toml ([tool.importlinter]) with import-linter.

zhaug's sub-packages live in top-level folders (setuptools ``package-dir``), which import-linter
cannot follow: it walks the folder of the root package. So a plain copy of zhaug is installed into
a temporary folder and import-linter is run on that copy, with the editable install's finder set
aside so that ``zhaug`` resolves to the copy. Exits with import-linter's status.

    python scripts/lint_imports.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    build_dir_existed = (ROOT / "build").exists()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--no-build-isolation", "--target", tmp, str(ROOT)],
                       check=True, stdout=subprocess.DEVNULL)
        if not build_dir_existed:  # setuptools leaves its build folder in the source tree
            shutil.rmtree(ROOT / "build", ignore_errors=True)
        sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
        sys.path_hooks[:] = [hook for hook in sys.path_hooks if "Editable" not in repr(hook)]
        sys.path_importer_cache.clear()
        sys.path.insert(0, tmp)
        os.chdir(tmp)  # import-linter puts the working directory first on the path
        from importlinter.cli import lint_imports

        return lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, show_timings=False,
                            verbose=False)


if __name__ == "__main__":
    sys.exit(main())
