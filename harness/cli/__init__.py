"""The command line (click): `harness run | report | recommend | project | list`."""
