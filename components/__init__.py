"""One pulumi.ComponentResource per platform concern; each takes typed arguments and registers outputs."""
