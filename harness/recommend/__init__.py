"""`harness recommend`: which strategy to use under constraints, and why."""
