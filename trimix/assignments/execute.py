"""Run a notebook's cells with nbclient, for the outputs and errors an instructor reads (the scores come from
``scoring``): errors allowed, each cell within a time limit, the whole notebook within another, the output
kept per cell capped, the kernel behind the grader's guard (``guard``).

A cell past its limit is interrupted, its output says so, and the run goes on with the next cell; once the
notebook's own limit is spent, the remaining cells are left unrun. A dead kernel stops the run.

One known stall is worked around with jupyter_client's own extension points: zmq.asyncio sometimes misses the
wake-up for a message that has already arrived (seen after widget cells, jupyter/nbclient#312, and here when
several notebooks run at once in threads); the cell then waits out its whole timeout although the reply is
there. The kernel manager handed to nbclient (its ``kernel_manager_class`` option) makes clients whose shell
and iopub channels poll again every ``POLL_S`` seconds, so a missed wake-up costs at most that.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from nbclient import NotebookClient
from traitlets import Type, default

from trimix.assignments import guard

POLL_S = 0.5
TIMEOUT_NAME = "CellTimeoutError"


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

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """A Python kernel (``python -m ipykernel_launcher ...``) starts behind the guard when its environment
        carries a policy; another kernel starts as it is."""
        cmd = super().format_kernel_cmd(extra_arguments)
        if guard.ENV in (self._launch_args or {}).get("env", {}) and cmd[1:2] == ["-m"] \
                and cmd[2:3] in (["ipykernel_launcher"], ["ipykernel"]):
            return [cmd[0], guard.__file__, *cmd[1:]]
        return cmd


class CappedClient(NotebookClient):
    """Keeps at most ``cell_limit`` characters of output per cell (then one line that says so)."""

    cell_limit = 500_000
    kept: dict[int, int]
    capped: set[int]

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), default=str))
        kept = self.kept.get(cell_index, 0)
        if kept + size > self.cell_limit:
            if cell_index not in self.capped:
                self.capped.add(cell_index)
                from nbformat.v4 import new_output

                outs.append(new_output("stream", name="stderr", text=f"\n[the grader kept the first "
                                       f"{self.cell_limit} characters of this cell's output]\n"))
            return None
        self.kept[cell_index] = kept + size
        return super().output(outs, msg, display_id, cell_index)


@dataclass
class Run:
    """How a notebook's run went, cell by cell."""

    stopped: str | None = None  # why cells were left unrun (the notebook's time limit, a dead kernel)
    timeouts: list[tuple[int, str, float]] = field(default_factory=list)  # (cell, first line, limit) interrupted
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (cell, first line, "Name: message")
    capped: list[int] = field(default_factory=list)  # cells whose output was cut
    output_limit: int = 0
    seconds: float = 0.0


def first_line(cell) -> str:
    return cell.source.strip().split("\n")[0][:60]


def execute(nb, cwd: Path, timeout: float = 600, quick: bool = True, kernel: str = "python3",
            total: float | None = None, env: dict | None = None, output_limit: int = 500_000,
            long_cells: frozenset[int] = frozenset()) -> Run:
    """Run the cells of ``nb`` in order, in place, in the folder ``cwd``; ``timeout`` seconds per cell, except the
    ``long_cells``, which may take what is left of ``total``, the notebook's limit; ``env`` is added to the
    kernel's environment (a ``guard`` policy among it)."""
    from nbformat.v4 import new_output

    env = {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1", **(env or {})}
    if quick:
        env["TRIMIX_QUICK"] = "1"
    client = CappedClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True, interrupt_on_timeout=True,
                          error_on_timeout={"ename": TIMEOUT_NAME, "evalue": "interrupted", "traceback": []},
                          shutdown_kernel="immediate", kernel_manager_class=PollingKernelManager,
                          resources={"metadata": {"path": str(cwd)}})
    client.cell_limit, client.kept, client.capped = output_limit, {}, set()
    run, start = Run(), time.monotonic()
    deadline = start + total if total else None
    index = None
    try:
        with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):  # the kernel's own log, not the cells'
            for index, cell in enumerate(nb.cells):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left < 1:
                    run.stopped = (f"the notebook ran past its {total:g} s limit: cells {index} to "
                                   f"{len(nb.cells) - 1} did not run")
                    break
                limit = left if index in long_cells and left is not None else timeout
                client.timeout = int(max(1, min(limit, left))) if left is not None else limit
                began = time.monotonic()
                client.execute_cell(cell, index)
                if time.monotonic() - began >= client.timeout:  # nbclient interrupted it and went on
                    message = f"cell {index} ran past its {client.timeout:g} s limit and was interrupted by the grader"
                    cell.outputs.append(new_output("error", ename=TIMEOUT_NAME, evalue=message, traceback=[]))
                    run.timeouts.append((index, first_line(cell), client.timeout))
    except Exception as e:  # a dead kernel, a kernel that did not start
        text = str(e).strip()
        run.stopped = f"{type(e).__name__} in cell {index}: {text.splitlines()[0] if text else ''}"
        cell = nb.cells[index] if index is not None else None
        if cell is not None and cell.cell_type == "code":
            error = new_output("error", ename=type(e).__name__, evalue=run.stopped, traceback=[])
            cell.outputs = [o for o in cell.get("outputs", []) if o.output_type != "error"] + [error]
    interrupted = {i for i, _, _ in run.timeouts}
    for i, cell in enumerate(nb.cells):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if errors and i not in interrupted:
            run.errors.append((i, first_line(cell), f"{errors[0].ename}: {errors[0].evalue}".strip()))
    run.capped, run.output_limit, run.seconds = sorted(client.capped), output_limit, time.monotonic() - start
    return run
