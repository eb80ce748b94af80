"""Which deliveries a Worker takes on: the recently seen message ids."""

from __future__ import annotations

from nova_lite.rpc.admission import RecentIds


def test_recent_ids_drop_duplicates_within_the_window_and_forget_the_oldest() -> None:
    """An id is refused again while it is among the last `size`, then taken again."""
    seen = RecentIds(3)
    assert [seen.add(i) for i in ("a", "b", "c")] == [True, True, True]
    assert [seen.add(i) for i in ("a", "b", "c")] == [False, False, False]
    assert seen.add("d")  # "a" leaves the window
    assert [seen.add(i) for i in ("b", "c", "d")] == [False, False, False]
    assert seen.add("a")  # taken again, and "b" leaves
    assert seen.add("b")
    assert not seen.add("a")
