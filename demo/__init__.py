"""`make demo`: the platform's ML lifecycle end to end on one machine, with real local services.

python -m demo [--size small|full] [--out build/demo]; see README "Local demo".
"""
