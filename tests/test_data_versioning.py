"""DVC versioning: the md5 is the version, and any past version can be read back by it."""

import pandas as pd
import pytest

from twelve.data.versioning import DataVersionNotFound, read_dvc_pointer


def test_track_returns_the_md5_in_the_pointer_and_pushes_to_the_remote(twelve_env):
    dvc = twelve_env.dvc()
    path = twelve_env.data_dir / "raw" / "numbers.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame({"x": [1, 2, 3]}).to_parquet(path)

    md5 = dvc.track(path)

    assert md5 == read_dvc_pointer(path.with_name("numbers.parquet.dvc"))
    assert dvc.version_of(path) == md5
    assert (twelve_env.remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def test_a_past_version_is_read_back_by_its_md5_after_the_file_changed(twelve_env, tmp_path):
    dvc = twelve_env.dvc()
    path = twelve_env.data_dir / "raw" / "table.parquet"
    path.parent.mkdir(parents=True)
    first = pd.DataFrame({"month": ["2013-01"], "late": [0.2]})
    first.to_parquet(path)
    first_md5 = dvc.track(path)

    pd.DataFrame({"month": ["2013-02"], "late": [0.3]}).to_parquet(path)
    second_md5 = dvc.track(path)
    assert second_md5 != first_md5

    # Even with the local cache gone, the remote still serves the first version.
    import shutil

    shutil.rmtree(twelve_env.repo / ".dvc" / "cache")
    restored = tmp_path / "restored.parquet"
    restored.write_bytes(dvc.read_version(first_md5))
    pd.testing.assert_frame_equal(pd.read_parquet(restored), first)


def test_an_unknown_version_is_a_clear_error(twelve_env):
    with pytest.raises(DataVersionNotFound, match="0123456789abcdef"):
        twelve_env.dvc().read_version("0123456789abcdef0123456789abcdef")


def test_tracking_a_missing_file_names_it(twelve_env):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.parquet"):
        twelve_env.dvc().track(twelve_env.data_dir / "nowhere.parquet")


def test_the_remote_follows_twelve_dvc_remote_when_not_configured(
    twelve_env, monkeypatch, tmp_path
):
    remote = tmp_path / "team-remote"
    monkeypatch.setenv("TWELVE_DVC_REMOTE", str(remote))
    from twelve.data.versioning import DvcResource

    dvc = DvcResource(repo_dir=str(twelve_env.repo))
    path = twelve_env.data_dir / "t.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame({"x": [1]}).to_parquet(path)
    md5 = dvc.track(path)
    assert (remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def _as_on_a_fresh_clone(twelve_env, path):
    """The pointer is committed with the right md5, but neither the cache nor the remote hold it."""
    import shutil

    md5 = twelve_env.dvc().track(path)
    shutil.rmtree(twelve_env.repo / ".dvc" / "cache")
    shutil.rmtree(twelve_env.remote)
    return md5


def test_ensure_stored_stores_a_version_whose_pointer_already_holds_its_md5(twelve_env):
    dvc = twelve_env.dvc()
    path = twelve_env.data_dir / "training" / "training_set.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame({"x": [1, 2]}).to_parquet(path)
    md5 = _as_on_a_fresh_clone(twelve_env, path)
    assert dvc.stored(md5) == (False, False)

    assert dvc.ensure_stored(path) == md5

    assert dvc.stored(md5) == (True, True)
    assert (twelve_env.remote / "files" / "md5" / md5[:2] / md5[2:]).read_bytes() == (
        path.read_bytes()
    )


def test_ensure_folder_stored_covers_every_pointer_and_names_a_lost_version(twelve_env):
    dvc = twelve_env.dvc()
    raw = twelve_env.data_dir / "raw"
    (raw / "flights").mkdir(parents=True)
    january, planes = raw / "flights" / "2013-01.parquet", raw / "planes.parquet"
    pd.DataFrame({"m": [1]}).to_parquet(january)
    pd.DataFrame({"p": ["N1"]}).to_parquet(planes)
    md5s = {"flights/2013-01.parquet": _as_on_a_fresh_clone(twelve_env, january)}
    md5s["planes.parquet"] = dvc.track(planes)

    assert dvc.ensure_folder_stored(raw) == md5s
    assert dvc.stored(md5s["flights/2013-01.parquet"]) == (True, True)

    # A file that is gone, whose version nothing holds: the model would be unreproducible.
    _as_on_a_fresh_clone(twelve_env, january)
    january.unlink()
    with pytest.raises(DataVersionNotFound, match=r"2013-01\.parquet is gone"):
        dvc.ensure_folder_stored(raw)
