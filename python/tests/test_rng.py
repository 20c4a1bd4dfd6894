"""The Python Rng and batch order against values printed by src/sdk/rng.ts and src/trainer/batches.ts
(the node integration test also compares the two live, on larger cases)."""

from learning_mechanics.batches import BatchSchedule, batch_schedule
from learning_mechanics.rng import Rng, hash_string


def test_hash_string_matches_typescript() -> None:
    # hashString("batch"), a non-ASCII label (UTF-16 code units), and the empty string.
    assert [hash_string("batch"), hash_string("é∑x"), hash_string("")] == [436461563, 3600907541, 2166136261]


def test_uint32_stream_matches_typescript() -> None:
    r = Rng(7, "batch", 3)
    assert [r.next_uint32() for _ in range(5)] == [2876695730, 1127869465, 406743093, 3795298516, 1504904519]


def test_permutations_match_typescript() -> None:
    assert Rng(0, "batch", 0).permutation(10) == [1, 5, 2, 4, 7, 9, 0, 3, 8, 6]
    assert Rng(-5, "batch", 12).permutation(7) == [6, 2, 5, 4, 1, 0, 3]


def test_batch_schedule_matches_typescript() -> None:
    s = BatchSchedule(10, 3, 42)
    # 3 batches per epoch (the remainder of 1 dropped), a fresh permutation each epoch.
    assert [s.indices(t) for t in range(1, 8)] == [[3, 8, 6], [0, 1, 7], [4, 5, 2], [4, 0, 3], [8, 2, 6], [9, 5, 7], [0, 1, 2]]
    # Asking out of order (as a resumed run does) gives the same batches.
    assert BatchSchedule(10, 3, 42).indices(5) == [8, 2, 6]


def test_full_batch_has_no_schedule() -> None:
    assert batch_schedule("full", 10, 0) is None
    assert batch_schedule(10, 10, 0) is None
    assert batch_schedule(16, 10, 0) is None
    assert batch_schedule(4, 10, 0) is not None
