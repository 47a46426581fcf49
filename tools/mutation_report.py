"""Run by tools/mutation.py with the module's own python, in the module's mutmut directory: every
mutant's status from mutmut's result files, and the diff of each one no test detected.

Prints one JSON object: {"status": {mutant: status word}, "diffs": {mutant: unified diff}}.
A standalone script (no project imports): the serving venv runs it as well as the root one.
"""
from __future__ import annotations

import json
import sys

from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

DETECTED = {"killed", "timeout", "caught by type check", "segfault"}


def main() -> int:
    status, diffs = {}, {}
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for mutant, exit_code in data.exit_code_by_key.items():
            status[mutant] = status_by_exit_code[exit_code]
            if status[mutant] not in DETECTED:
                diffs[mutant] = get_diff_for_mutant(mutant, path=path)
    json.dump({"status": status, "diffs": diffs}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
