"""XYZShopSmart's infrastructure policy pack.

Importing this package has no side effects: the policies are plain pulumi-policy objects
(`policy.pack.POLICIES`). `policy/__main__.py` wraps them in a `PolicyPack` (which starts the
analyzer's gRPC server) for `pulumi preview --policy-pack policy`; `policy.offline` runs the very
same validation functions over the offline preview (`build/preview/<stack>/resources.json`)."""
