"""Fixtures every test module may use."""

import gc
import os
import warnings

import pytest
from hypothesis import settings

from qnnhw import dataset
from qnnhw.families.bilinear.config import BilinearConfig
from qnnhw.families.bilinear.train import SDPTrainer


@pytest.fixture(autouse=True)
def collect_unused_components():
    """Components built only to check their refusals or their ROM are never elaborated;
    collect them while their test runs, so that their warning is this test's, and quiet."""
    with warnings.catch_warnings():
        from amaranth.hdl import UnusedElaboratable

        warnings.simplefilter("ignore", UnusedElaboratable)
        yield
        gc.collect()


@pytest.fixture(scope="session")
def planted_trainer():
    """The paper's Fig. 1 setting: planted data, squared loss, β = 1e-4 (one SDP for all),
    Algorithm 1 alone (the refits have their own tests)."""
    return SDPTrainer(dataset.planted(seed=0), BilinearConfig(loss="squared", beta=1e-4,
                                                               epochs=100,
                                                               output_refit="none"))


@pytest.fixture(scope="session")
def ionosphere_trainer():
    """The paper's Fig. 3 setting: ionosphere, hinge loss, β = 10, Algorithm 1 alone."""
    return SDPTrainer(dataset.load("ionosphere", seed=0),
                      BilinearConfig(loss="hinge", beta=10.0, output_refit="none"))


@pytest.fixture(scope="session")
def verilator_dir(tmp_path_factory):
    """One Verilator work folder for the session: identical designs are built once."""
    return tmp_path_factory.mktemp("verilator")


# Hypothesis: a few hundred inputs per fuzzer in make test, 10,000 in make test-all
# (tests/test_fuzz.py), the same inputs on every run so that CI is reproducible;
# HYPOTHESIS_PROFILE=explore draws 10,000 new ones each run, to look for more. No example
# database, so that a run leaves nothing behind.
settings.register_profile("default", max_examples=300, database=None, derandomize=True)
settings.register_profile("thorough", max_examples=10_000, database=None, derandomize=True)
settings.register_profile("explore", max_examples=10_000, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
