"""Pipeline stages counted once, and control signals that travel beside the data.

A datapath declares its register stages in order (:class:`Stages`), which gives its latency
before it is elaborated. While it elaborates, a :class:`Tracker` checks that every stage is
built as declared and hands out the issue stage's control signals (valid, first, last, the
ROM address…) delayed to wherever the data is, so no stage offset is ever added by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Module, Signal, Value

__all__ = ["Stages", "Tracker"]


class Stages:
    """The register stages of a pipeline, in order.

    Parameters
    ----------
    stages : sequence of (str, int)
        Each stage's name and number of registers (0 is allowed: a stage that is wiring in
        this configuration).
    """

    def __init__(self, stages: Sequence[tuple[str, int]]):
        names = [name for name, _ in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"Stage names must be unique, not {names!r}")
        for name, depth in stages:
            if not isinstance(depth, int) or depth < 0:
                raise ValueError(f"Stage {name!r} must have a non-negative integer depth, not "
                                 f"{depth!r}")
        self.stages = tuple(stages)

    @property
    def depth(self) -> int:
        """Registers from the start of the first stage to the end of the last."""
        return sum(depth for _, depth in self.stages)

    def track(self, m: Module, **control: Value) -> Tracker:
        """Start elaborating: ``control`` are the signals to carry beside the data."""
        return Tracker(m, self, control)


class Tracker:
    """Where elaboration is in a :class:`Stages` pipeline, with its control signals."""

    def __init__(self, m: Module, stages: Stages, control: dict[str, Value]):
        self._m = m
        self._pending = list(stages.stages)
        self._delayed = {name: [value] for name, value in control.items()}
        self.depth = 0

    def advance(self, name: str, depth: int) -> None:
        """The data has gone through stage ``name``, ``depth`` registers."""
        if not self._pending:
            raise ValueError(f"Stage {name!r} is not declared: every stage is built already")
        expected, declared = self._pending.pop(0)
        if (name, depth) != (expected, declared):
            raise ValueError(f"Stage {name!r} with {depth} registers was built where stage "
                             f"{expected!r} with {declared} registers was declared")
        self.depth += depth

    def carry(self, name: str, value: Value) -> None:
        """From here on carry ``value`` (a signal of the current stage) beside the data."""
        if name in self._delayed:
            raise ValueError(f"Control signal {name!r} is carried already")
        self._delayed[name] = [value] * (self.depth + 1)

    def __getitem__(self, name: str) -> Value:
        """Control signal ``name`` as it is at the current stage (registered as needed).

        The delay registers are created on first use: never call this inside ``m.If``,
        which would make them conditional."""
        chain = self._delayed[name]
        while len(chain) <= self.depth:
            register = Signal.like(chain[-1], name=f"{name}_d{len(chain)}")
            self._m.d.sync += register.eq(chain[-1])
            chain.append(register)
        return chain[self.depth]

    def chain(self, name: str) -> list[Value]:
        """Control signal ``name`` at every stage built so far, from the issue stage (0) to the
        current one (registered as needed; not inside ``m.If``, as for ``[]``)."""
        self[name]
        return self._delayed[name][:self.depth + 1]

    def finish(self) -> None:
        """Every declared stage must have been built."""
        if self._pending:
            names = ", ".join(name for name, _ in self._pending)
            raise ValueError(f"Stages {names} were declared but not built")
