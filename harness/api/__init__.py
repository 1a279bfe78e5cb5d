"""What a strategy author imports: the Strategy protocol and its base with defaults, the
registry, settings, resources, backends, inference variants and the contract checks (testing).

    from harness.api import Context, Predictions, Footprint, Resources, StrategyBase
    from harness.api.testing import check_strategy
"""
