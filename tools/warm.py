"""One warm process for many previews: import the SDKs once, then fork a child per preview.

Why: a preview is mostly imports. pulumi_aws and pulumi_kubernetes build thousands of typed
classes at import (about 1.3 s on a 2-core CI machine), while declaring a stack's ~220 resources
under mocks takes well under a second. A process per stack paid the import for every stack; a
fork after the import pays it once. Each child still starts from a runtime nobody has touched
(the parent imports modules and declares nothing), so its output is byte-identical to a fresh
process's.

`preload(tree)` imports what a program run in `tree` will need; `run_forked(jobs, width)` runs the
jobs in children, at most `width` at a time, and returns each child's exit code and its output.
"""
from __future__ import annotations

import ast
import contextlib
import gc
import importlib
import io
import os
import selectors
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# The SDK packages whose submodules load lazily on attribute access (`aws.ec2.Vpc`).
_LAZY_SDKS = ("pulumi_aws", "pulumi_kubernetes", "pulumi_random", "pulumi_pagerduty", "pulumi_policy")
# Folders whose code a program run (and its review) imports.
_PROJECT_DIRS = ("infra", "components", "observability", "policy", "tools")


def sdk_references(tree: Path) -> list[tuple[str, ...]]:
    """The SDK attribute chains the project's code reaches, read from its source.

    `import pulumi_aws as aws` then `aws.ec2.Vpc(...)` loads `pulumi_aws.ec2` and then the module
    behind `Vpc` on first use (the SDKs import lazily); the AST walk finds each alias's attribute
    chains so the parent can resolve them before forking. Returns sorted tuples such as
    `("pulumi_aws", "ec2", "Vpc")`."""
    found: set[tuple[str, ...]] = set()
    for folder in _PROJECT_DIRS:
        for path in sorted((tree / folder).rglob("*.py")):
            source = path.read_text()
            # Parsing is most of the walk's time (0.35-0.44 s over every file, 0.13-0.15 s over
            # the third that name an SDK); a file that never names a lazy SDK cannot reach one.
            if not any(sdk in source for sdk in _LAZY_SDKS):
                continue
            try:
                module = ast.parse(source, str(path))
            except SyntaxError:
                continue
            aliases: dict[str, tuple[str, ...]] = {}
            for node in ast.walk(module):
                if isinstance(node, ast.Import):
                    for a in node.names:
                        if a.name.split(".")[0] in _LAZY_SDKS:
                            aliases[a.asname or a.name] = tuple(a.name.split(".")) if a.asname else (a.name.split(".")[0],)
                elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in _LAZY_SDKS:
                    for a in node.names:
                        aliases[a.asname or a.name] = (*node.module.split("."), a.name)
                        found.add((*node.module.split("."), a.name))
            for node in ast.walk(module):
                chain = _attribute_chain(node)
                if chain and chain[0] in aliases:
                    found.add((*aliases[chain[0]], *chain[1:]))
    return sorted(found)


def _attribute_chain(node: ast.AST) -> list[str] | None:
    if not isinstance(node, ast.Attribute):
        return None
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(names)]


def preload(tree: Path, project_modules: Iterable[str] = ()) -> None:
    """Imports pulumi, resolves the SDK references of the code in `tree`, imports `project_modules`.

    The cyclic garbage collector is off while importing and the imported objects are frozen
    (gc.freeze) afterwards; see `collector_paused`."""
    with collector_paused():
        _preload(tree, project_modules)


@contextlib.contextmanager
def collector_paused():
    """The cyclic garbage collector off for the block; what the block made is frozen after it.

    For work that makes many objects and little garbage: the imports here, a program run in
    tools/engine.py. Reference counting still frees what is not in a cycle; cycles made in the
    block are never collected, so a process should pause it around its one large job only."""
    # The imports create ~370,000 objects, nearly none of them garbage, and every third-generation
    # collection the allocations trigger walks all of them: about 0.9 s of CPU of a 3.2 s import.
    # Frozen, they sit in the permanent generation: a forked child's collections skip them too
    # (about 0.4 s of a dev program's 1.6 s CPU) and do not write to their pages, which the
    # children share with the parent. Collection itself is unchanged afterwards: garbage made
    # later is collected as before, so no output can differ.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


# Set by the warm preview server in its forks (tools/preview_server.py): the server resolved the
# SDK references when it started, and a reference added since loads on first use like any other.
SDK_REFERENCES_RESOLVED = False


def _preload(tree: Path, project_modules: Iterable[str]) -> None:
    import pulumi
    import pulumi.runtime  # noqa: F401
    for chain in ([] if SDK_REFERENCES_RESOLVED else sdk_references(tree)):
        # getattr, not import_module: it triggers the SDK's own lazy loading, and a leaf such as
        # `pulumi_kubernetes.apiextensions.CustomResource` stays the class, not the module.
        obj = importlib.import_module(chain[0])
        for attr in chain[1:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, type) and issubclass(obj, pulumi.Resource):
            _warm_output_types(obj)
    for name in project_modules:
        importlib.import_module(name)


def _warm_output_types(cls: type) -> None:
    # The SDK resolves a resource class's output annotations (typing.get_type_hints over its
    # module's globals) the first time the class is registered, and caches them per class: about
    # a third of a warm program run. Resolved here, the cache is inherited by every child.
    # A private helper of pulumi 3.x; if a later SDK drops it, children simply resolve it again.
    from pulumi import _types
    resolve = getattr(_types, "_types_from_py_properties", None)
    if resolve is not None:
        try:
            resolve(cls)
        except Exception:  # noqa: BLE001 - an optimisation only; the child will raise if it matters
            pass


def forget_project_modules(keep: Iterable[str] = ()) -> None:
    """Drops from sys.modules every module of this repository's own packages (its file under
    REPO_ROOT/<its top-level package>, so a virtualenv inside the checkout is not one), but the
    packages named in `keep`: the next import of them reads the checkout again."""
    kept = set(keep)
    for name, module in list(sys.modules.items()):
        top = name.split(".")[0]
        origin = getattr(module, "__file__", None) or ""
        if top not in kept and origin.startswith(str(REPO_ROOT / top) + os.sep):
            del sys.modules[name]
    importlib.invalidate_caches()


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_forked(jobs: list[Callable[[], int]], width: int = 2) -> list[Outcome]:
    """Runs each job in a forked child, `width` at a time; a job returns an exit code.

    A child's stdout and stderr are captured through pipes and returned in job order, so the
    caller prints them in a stable order whatever finishes first. An exception in a job is
    printed to its stderr and gives exit code 1."""
    outcomes: list[Outcome | None] = [None] * len(jobs)
    pending = list(enumerate(jobs))
    running: dict[int, tuple[int, int, int, io.BytesIO, io.BytesIO]] = {}
    selector = selectors.DefaultSelector()
    while pending or running:
        while pending and len(running) < width:
            index, job = pending.pop(0)
            running[index] = _spawn(job, selector, index)
        key_events = selector.select()
        for key, _ in key_events:
            fd, (index, stream) = key.fd, key.data
            chunk = os.read(fd, 65536)
            pid, out_fd, err_fd, out, err = running[index]
            if chunk:
                (out if stream == "out" else err).write(chunk)
                continue
            selector.unregister(fd)
            os.close(fd)
            if stream == "out":
                running[index] = (pid, -1, err_fd, out, err)
            else:
                running[index] = (pid, out_fd, -1, out, err)
            pid, out_fd, err_fd, out, err = running[index]
            if out_fd == -1 and err_fd == -1:
                _, status = os.waitpid(pid, 0)
                outcomes[index] = Outcome(os.waitstatus_to_exitcode(status),
                                          out.getvalue().decode(), err.getvalue().decode())
                del running[index]
    return [o for o in outcomes if o is not None]


def _spawn(job: Callable[[], int], selector: selectors.BaseSelector, index: int):
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: never returns
        os.close(out_r)
        os.close(err_r)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        sys.stdout = os.fdopen(1, "w", closefd=False)
        sys.stderr = os.fdopen(2, "w", closefd=False)
        code = 1
        try:
            code = job()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - the child reports and exits, whatever happened
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    selector.register(out_r, selectors.EVENT_READ, (index, "out"))
    selector.register(err_r, selectors.EVENT_READ, (index, "err"))
    return pid, out_r, err_r, io.BytesIO(), io.BytesIO()


def program_of_tree(tree: Path, stack: str, out: Path) -> Callable[[], int]:
    """A job for `run_forked`: the program of the checkout at `tree` (the diff's base, or the
    working tree) for `stack`, run by this checkout's engine and mocks, rendered into `out`.

    Both sides of a diff thus go through the same machinery; only the program, its components
    and its model and rule files come from `tree`. In the child, every module loaded from this
    repository except `tools` is forgotten and `tree` replaces this repository on sys.path.
    Returns 0, or the program's exit code (2 for a bad stack config, printed on stderr)."""
    def job() -> int:
        from .engine import run_program
        from .render import write_preview
        from .stack_files import StackFileError, load_stack_config

        os.chdir(tree)
        forget_project_modules(keep=("tools",))
        sys.path[:] = [str(tree)] + [p for p in sys.path if p and Path(p).resolve() != REPO_ROOT]
        try:
            config = load_stack_config(stack, tree / "stacks" / f"Pulumi.{stack}.yaml")
        except StackFileError as exc:
            print(exc, file=sys.stderr)
            return 2
        records = run_program(stack, config, program=tree / "infra" / "__main__.py")
        write_preview(records, out / stack)
        return 0
    return job
