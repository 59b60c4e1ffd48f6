"""Run a notebook's cells with nbclient, cell by cell, errors allowed, through nbclient's public API only.

One known stall is worked around with jupyter_client's own extension points: zmq.asyncio sometimes misses the
wake-up for a message that has already arrived (seen after widget cells, jupyter/nbclient#312, and here when
several notebooks run at once in threads); the cell then waits out its whole timeout although the reply is
there. The kernel manager handed to nbclient (its ``kernel_manager_class`` option) makes clients whose shell
and iopub channels poll again every ``POLL_S`` seconds, so a missed wake-up costs at most that.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from queue import Empty

from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets import Type, default

POLL_S = 0.5


class PollingChannel(AsyncZMQSocketChannel):
    """A channel whose ``get_msg(timeout)`` polls in slices of ``POLL_S`` seconds until ``timeout``."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await super().get_msg(timeout=POLL_S if left is None else min(POLL_S, left))
            except Empty:
                if left is not None and left <= POLL_S:
                    raise


class PollingKernelClient(AsyncKernelClient):
    shell_channel_class = Type(PollingChannel)
    iopub_channel_class = Type(PollingChannel)


class PollingKernelManager(AsyncKernelManager):
    @default("client_factory")
    def _client_factory_default(self) -> type:
        return PollingKernelClient


def execute(nb, cwd: Path, timeout: int = 600, quick: bool = True, kernel: str = "python3") -> str | None:
    """Run the cells of ``nb`` in order, in place; an error in a cell does not stop the run, but a cell over
    the time limit or a dead kernel does: that cell gets the error as its output, the cells after it stay
    unrun, and the reason is returned (None when every cell ran)."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_output

    env = {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    if quick:
        env["TRIMIX_QUICK"] = "1"
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True,
                            kernel_manager_class=PollingKernelManager, resources={"metadata": {"path": str(cwd)}})
    cell = None
    try:
        with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):  # the kernel's own log, not the cells'
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
    except Exception as e:  # a cell over the time limit, a dead kernel, a kernel that did not start
        text = str(e).strip()
        stopped = f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"
        if cell is not None and cell.cell_type == "code":
            error = new_output("error", ename=type(e).__name__, evalue=stopped, traceback=[])
            cell.outputs = [o for o in cell.outputs if o.output_type != "error"] + [error]
        return stopped
    return None
