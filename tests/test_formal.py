"""Formal checks of the control logic (yosys's SAT solver, no other tool): the credits'
induction proofs and a bounded check of the framing here, the framing's induction proof in
bench/formal.py. Each harness is shown to catch a violation, so a check that passes has
looked at the design."""

import pytest
from amaranth.hdl import Assert

from qnnhw import flow
from qnnhw.families import get_family, names
from qnnhw.protocol import Status
from sim import formal

from .helpers import random_threshold_model


def with_extra_assertion(harness, assertion):
    build = harness._build

    def extended(m):
        build(m)
        m.d.comb += Assert(assertion(m.submodules.dut))

    return formal._Harness(extended, harness.inputs)


def configurations():
    """Every family's every architecture, by the registry; folded ones with two units and
    with one group (P = m), with one output and with three."""
    for name in names():
        family = get_family(name)
        for arch in family.architectures:
            for classes, parallel in ((2, 2), (3, 5)):
                yield pytest.param(name, arch.name, classes, parallel,
                                   id=f"{name}-{arch.name}-{classes}-{parallel}")


@pytest.mark.parametrize("family, arch, classes, parallel", list(configurations()))
def test_credits_are_proven_for_every_input_and_ready_pattern(tmp_path, family, arch,
                                                              classes, parallel):
    model = get_family(family).example(2, 5, seed=1, classes=classes)
    spec = flow.fixed_point(model, 3)
    parallel = min(parallel, get_family(family).units(spec, arch))
    result = formal.prove(formal.credit_harness(flow.datapath(model, spec, parallel, True,
                                                              arch)),
                          tmp_path, "credits", 10)
    assert result.proven, result.log[-2000:]


def test_the_credit_harness_catches_a_violation(tmp_path):
    model = random_threshold_model(2, 5, seed=1)
    datapath = flow.datapath(model, flow.fixed_point(model, 3), 2)
    harness = with_extra_assertion(formal.credit_harness(datapath),
                                   lambda dut: dut.in_flight < 3)   # false: three fit
    assert not formal.prove(harness, tmp_path, "credits", 10).proven


def test_the_credit_harness_catches_a_wrong_folding_claim(tmp_path):
    model = random_threshold_model(2, 5, seed=1)
    datapath = flow.datapath(model, flow.fixed_point(model, 3), 2)
    harness = with_extra_assertion(formal.credit_harness(datapath),   # false: it reaches T−1
                                   lambda dut: dut.group < datapath.groups - 1)
    assert not formal.prove(harness, tmp_path, "folding", 10).proven


@pytest.mark.slow
def test_frames_are_checked_and_the_harness_catches_a_violation(tmp_path):
    # 14 cycles: an 8-byte frame and its record, and room for noise before it.
    bounded = formal.prove(formal.framing_harness(1, 8, 2), tmp_path, "framing", 14,
                           bounded=True)
    assert bounded.proven, bounded.log[-2000:]
    never = with_extra_assertion(formal.framing_harness(1, 8, 2),
                                 lambda dut: ~(dut.push & (dut.pushed.status == Status.OK)))
    assert not formal.prove(never, tmp_path, "never", 14, bounded=True).proven
