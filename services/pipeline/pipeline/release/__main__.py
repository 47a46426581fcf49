"""`python -m pipeline.release <model> <action>`: the same CLI as `python -m pipeline release`."""
import sys

from pipeline.release.cli import main

sys.exit(main(sys.argv[1:]))
