"""`harness project`: memory, time and price on devices one does not have, from a cost model
checked against a measurement on the device present."""
