"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest

from jetfactory import random_jets
from tagformer.data.batch import JetBatch


@pytest.fixture
def jets() -> JetBatch:
    return random_jets()
