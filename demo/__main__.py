"""`python -m demo [--size small|full] [--out build/demo]`: the local lifecycle demo and its report.

Exit 0 with the report written; exit 1 with one line `demo: <phase>: <reason>` otherwise.
Everything started is stopped on the way out, also on Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from demo.local_platform import REPO

# The orchestrator runs in the pipeline's venv and reads S3 and the registry with its code.
sys.path.insert(0, str(REPO / "services" / "pipeline"))

from demo.loop import SIZES, DemoError, Loop  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "demo")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    work = out / "work"
    # A second run starts clean: the last run's services are stopped, its files go.
    shutil.rmtree(out, ignore_errors=True)
    work.mkdir(parents=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    loop = Loop(args.size, work, progress=lambda line: print(line, flush=True))
    started = time.time()
    try:
        result = loop.run()
        with loop.phase("report"):
            from demo import observe, report

            prometheus = loop.platform.urls["prometheus"]
            result["series"] = observe.series(prometheus, "recsys", started, time.time())
            result["alerts"] = observe.alerts(prometheus, started, time.time())
            result["traffic"] = report.traffic_summary(loop.traffic.answers)
            result["evaluations"] = report.evaluations(result)
            result["started_at"] = started
        result["total_seconds"] = round(time.time() - started, 1)
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]  # 1, 5, 15 min: the machine is shared
        (out / "result.json").write_text(json.dumps(result, indent=1, default=str))
        report.write(result, out)
    except DemoError as exc:
        print(f"demo: {exc.phase}: {exc.reason} (logs in {work})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"demo: {loop._phase}: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:  # a service answered something unexpected: one line, the phase named
        print(f"demo: {loop._phase}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              f"(logs in {work})", file=sys.stderr)
        return 1
    finally:
        loop.stop()
    print(f"demo: report written to {out / 'report.md'} in {time.time() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
