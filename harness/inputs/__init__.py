"""What a cell is computed from: tasks (and their kinds), their data, and the models with
the identity of their weights."""
