"""The two ways a step stops short, and the exit codes the orchestrator tells apart."""
from __future__ import annotations

BAD_INPUT_EXIT = 2  # the input is wrong (missing partitions, wrong schema, empty window, bad argument)
GATE_EXIT = 3  # the input was fine and the step ran, but a check it owns failed (gate, parity, quality)


class BadInput(Exception):
    """One line naming the input (file, partition, column or argument), the value and what is allowed."""


class GateFailed(Exception):
    """One line with every failed check and its measured value; reports were written first."""
