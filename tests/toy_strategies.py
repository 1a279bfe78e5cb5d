"""Strategies that misbehave on purpose, to test how the runner contains them. They are
registered with the decorator by the tests that use them, never through entry points."""

import os
import signal
from dataclasses import dataclass

import numpy as np

from harness.strategy import Footprint, Predictions


@dataclass
class NoConfig:
    pass


class _Base:
    description = "test double"
    config_class = NoConfig
    model_kind = None

    def __init__(self, config, context):
        self.k = context.task.num_labels

    def fit(self, train):
        pass

    def predict(self, texts):
        scores = np.zeros((len(texts), self.k))
        scores[:, 0] = 1.0
        return Predictions(scores.argmax(axis=1), scores)

    def footprint(self):
        return Footprint(0, 0)


class Raising(_Base):
    name = "toy-raising"

    def fit(self, train):
        raise ValueError("the toy strategy refuses to train")


class Killed(_Base):
    name = "toy-killed"

    def fit(self, train):
        os.kill(os.getpid(), signal.SIGKILL)


class OutOfRange(_Base):
    name = "toy-out-of-range"

    def predict(self, texts):
        return Predictions(np.full(len(texts), self.k + 1), np.zeros((len(texts), self.k)))


class FirstLabel(_Base):
    name = "toy-first-label"
