"""The lone-process world (the multi-process path is tested end to end in test_train)."""

from tweetling.distributed import SINGLE, World, world


def test_each_process_takes_every_nth_example_from_its_rank():
    shares = [World(rank=rank, size=3).shard(list(range(7))) for rank in range(3)]
    assert shares == [[0, 3, 6], [1, 4], [2, 5]]
    assert World(rank=2, size=3).shard([10, 11]) == []  # a process may get nothing in a step


def test_without_a_launcher_the_world_is_one_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    world.cache_clear()
    assert world() == SINGLE and SINGLE.is_main and SINGLE.device == "cpu"
    assert SINGLE.sum(3, True, 0.5) == [3.0, 1.0, 0.5]
