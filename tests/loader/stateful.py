"""A generic resume check for anything with ``state_dict()`` / ``load_state_dict()``.

``check_resume(make, consume)`` runs one object to the end as the reference; then runs a
second object to a midpoint, saves its state (through pickle, as a checkpoint would),
restores it into a third, fresh object and checks that the rest is exactly the reference's
rest: nothing repeated, nothing skipped.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any, Protocol, TypeVar


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


S = TypeVar("S", bound=Stateful)


def check_resume(
    make: Callable[[], S],
    consume: Callable[[S, int | None], list[Any]],
    *,
    midpoints: list[int] | None = None,
) -> list[Any]:
    """``consume(obj, n)`` returns the next ``n`` items (all the rest when ``n`` is None).

    Returns the reference sequence. ``midpoints`` defaults to the middle of it.
    """
    reference = consume(make(), None)
    assert len(reference) >= 2, "the resume check needs at least two items"
    for mid in midpoints if midpoints is not None else [len(reference) // 2]:
        first_obj = make()
        first = consume(first_obj, mid)
        assert first == reference[:mid], f"the first {mid} items differ from the reference"
        state = pickle.loads(pickle.dumps(first_obj.state_dict()))
        resumed = make()
        resumed.load_state_dict(state)
        rest = consume(resumed, None)
        assert first + rest == reference, (
            f"resuming at {mid} did not reproduce the reference: "
            f"first={len(first)} rest={len(rest)} reference={len(reference)}"
        )
    return reference
