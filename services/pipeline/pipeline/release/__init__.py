"""Release controller: a gated model version goes out as the canary (`challenger`), Prometheus
evidence decides, and the registry aliases move (`champion` <- `challenger`, or back).

Serving follows the aliases (stable predictor: models:/<name>@champion, canary predictor:
models:/<name>@challenger), so a release is a registry change, never a redeploy.
"""
