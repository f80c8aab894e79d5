from __future__ import annotations

from pathlib import Path

from driftline.cli.serve import METRICS_DIR, metrics_in_memory


def test_the_metrics_folder_becomes_an_empty_folder_in_memory(tmp_path: Path) -> None:
    """A real folder left by an earlier start is replaced by a link; each start empties what the link leads to."""
    home, memory = tmp_path / "bentoml", tmp_path / "shm"
    memory.mkdir()
    (home / METRICS_DIR).mkdir(parents=True)
    (home / METRICS_DIR / "counter_1.db").write_bytes(b"old")
    target = metrics_in_memory(home, memory)
    assert (home / METRICS_DIR).is_symlink() and (home / METRICS_DIR).resolve() == target.resolve()
    assert target.parent == memory and list(target.iterdir()) == []
    (target / "counter_2.db").write_bytes(b"from the last run")
    assert metrics_in_memory(home, memory) == target and list(target.iterdir()) == []
    assert (home / METRICS_DIR).resolve() == target.resolve()


def test_without_a_memory_folder_the_files_stay_where_bentoml_puts_them(tmp_path: Path) -> None:
    home = tmp_path / "bentoml"
    assert metrics_in_memory(home, tmp_path / "no-such-folder") == home.resolve() / METRICS_DIR
    assert not (home / METRICS_DIR).exists()


def test_two_model_stores_get_separate_folders(tmp_path: Path) -> None:
    memory = tmp_path / "shm"
    memory.mkdir()
    assert metrics_in_memory(tmp_path / "a", memory) != metrics_in_memory(tmp_path / "b", memory)


def test_a_link_made_by_another_replica_is_replaced_in_place(tmp_path: Path) -> None:
    """Over a link a replica sharing the model store made, a start leaves one link and nothing else in the store."""
    home, memory = tmp_path / "bentoml", tmp_path / "shm"
    memory.mkdir()
    home.mkdir()
    (home / METRICS_DIR).symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    metrics_in_memory(home, memory)
    assert [METRICS_DIR] == [entry.name for entry in home.iterdir()]
