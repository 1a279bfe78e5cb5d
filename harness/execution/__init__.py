"""Executing a grid: the driver (the one writer of records), the executors behind one
protocol (local, Ray) and what a run says while it goes."""
