"""The set-up cell of every notebook: in Colab, keep the kit's runs and data on Google Drive.

Colab wipes a runtime's disk when the runtime is recycled, and each notebook opened from its badge gets a
runtime of its own, so a checkpoint that notebook 05 wrote under ``/content`` is gone, or was never there,
when notebook 06 looks for it. Every path the kit writes is relative to the working folder: datasets under
``data/`` (``Config.root``), checkpoints under ``runs/`` (``Config.out_dir``), tables under ``results/``.
So in Colab ``use_drive`` mounts Google Drive and makes one folder on it (``MyDrive/trimix-kit``) the
working folder: everything the kit keeps lands there, every notebook finds it in a fresh runtime, and a
run cut off by a disconnect resumes from its last checkpoint. Nothing else changes: the same
configurations, the same relative paths, and ``!python -m trimix ...`` in a cell works in that folder too.

Outside Colab (JupyterLab, pytest, the CLI) it does nothing: the notebooks keep working where they are.
"""
from __future__ import annotations

import os
from pathlib import Path

DRIVE_MOUNT = "/content/drive"  # where Colab mounts Google Drive
DRIVE_FOLDER = "trimix-kit"  # the folder under "My Drive" that holds data/ and runs/


def in_colab() -> bool:
    """True inside a Google Colab runtime (its ``google.colab`` package can be imported)."""
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def use_drive(enabled: bool = True, folder: str = DRIVE_FOLDER, mount_point: str = DRIVE_MOUNT) -> Path | None:
    """In Colab: mount Google Drive (when ``enabled``) and work in ``My Drive/<folder>``; print where
    runs and data are kept, in one line. Returns the working folder, or None outside Colab, where
    nothing is done and nothing printed.

    Colab asks once per runtime for permission to mount; if Drive cannot be mounted (permission refused,
    no account) the notebook goes on in ``/content`` and the line says that its work will not last.
    """
    if not in_colab():
        return None
    if not enabled:
        print(f"Runs and data are kept in {Path.cwd()} (USE_DRIVE = False): lost when this Colab runtime is recycled.")
        return Path.cwd()
    from google.colab import drive

    try:
        drive.mount(mount_point)
    except Exception as e:  # refused permission, timeout: carry on without Drive, and say so
        print(f"Google Drive was not mounted ({type(e).__name__}: {e}); runs and data are kept in {Path.cwd()} "
              "and lost when this Colab runtime is recycled.")
        return Path.cwd()
    work = Path(mount_point) / "MyDrive" / folder
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    print(f"Runs and data are kept on Google Drive in {work} (runs/, data/): they outlive this runtime, "
          "and every notebook finds them.")
    return work


REPOSITORY_RAW = "https://raw.githubusercontent.com/trimix-kit/trimix/main"  # the kit's files on the web


def kit_figure_source(relative: str, start: Path | None = None) -> str:
    """Where a figure committed with the kit (e.g. ``docs/figures/curve_small.png``) can be read: the file in
    the checkout that holds ``start`` (default: the working folder), looked for in it and its parents, so
    that both ``notebooks/`` and ``notebooks/student/`` find it; else its address in the kit's repository
    (Colab, where the kit was installed with pip and the checkout's ``docs/`` is not on disk)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / relative).is_file():
            return str(folder / relative)
    return f"{REPOSITORY_RAW}/{relative}"


def show_kit_figure(relative: str):
    """An ``IPython.display.Image`` of a figure committed with the kit (``kit_figure_source``)."""
    from IPython.display import Image

    source = kit_figure_source(relative)
    return Image(url=source) if source.startswith("https://") else Image(filename=source)
