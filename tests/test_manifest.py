"""The run manifest: what a model was made from, as a dict, as tags, and from git/DVC facts."""

import subprocess

import pandas as pd
import pytest

from twelve.core.config import config_hash
from twelve.core.files import file_md5, file_sha256
from twelve.training import manifest
from twelve.training.manifest import GitState

RAW = {"weather.parquet": "b" * 32, "flights/2013-01.parquet": "a" * 32}
CONFIG = {"estimator": "hist_gradient_boosting", "params": {"max_iter": 100}, "seed": 42}


def _manifest(**overrides):
    arguments = {
        "git": GitState("c" * 40, dirty=True),
        "raw_inputs": RAW,
        "training_set_md5": "d" * 32,
        "holdout_md5": "e" * 32,
        "feature_service": "flight_delay_v1",
        "config": CONFIG,
        "uv_lock_sha256": "f" * 64,
        "dagster_run_id": "run-123",
        **overrides,
    }
    return manifest.build_manifest(**arguments)


def test_the_manifest_holds_every_required_fact():
    built = _manifest()
    assert set(manifest.REQUIRED_KEYS) <= set(built)
    assert built["git_commit"] == "c" * 40
    assert built["git_dirty"] is True
    assert list(built["raw_inputs"]) == ["flights/2013-01.parquet", "weather.parquet"]  # sorted
    assert built["feature_service_version"] == "1"
    assert built["config_hash"] == config_hash(CONFIG)
    assert built["config"] == CONFIG
    assert built["dagster_run_id"] == "run-123"


def test_the_config_hash_ignores_key_order_and_changes_with_any_value():
    reordered = {"seed": 42, "params": {"max_iter": 100}, "estimator": "hist_gradient_boosting"}
    assert _manifest(config=reordered)["config_hash"] == _manifest()["config_hash"]
    changed = {**CONFIG, "params": {"max_iter": 101}}
    assert _manifest(config=changed)["config_hash"] != _manifest()["config_hash"]


def test_the_same_inputs_give_the_same_manifest():
    assert _manifest() == _manifest()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"training_set_md5": ""}, "training_set_md5"),
        ({"dagster_run_id": ""}, "dagster_run_id"),
        ({"git": GitState("", dirty=False)}, "git_commit"),
        ({"raw_inputs": {}}, "no raw inputs"),
        ({"feature_service": "flight_delay"}, "_v<number>"),
    ],
)
def test_a_manifest_with_a_hole_is_refused(override, message):
    with pytest.raises(ValueError, match=message):
        _manifest(**override)


def test_tags_are_prefixed_flat_strings_with_one_tag_per_raw_input():
    tags = manifest.manifest_tags(_manifest())
    assert all(key.startswith("twelve.") for key in tags)
    assert all(isinstance(value, str) for value in tags.values())
    assert tags["twelve.git_dirty"] == "true"
    assert tags["twelve.raw.flights/2013-01.parquet"] == "a" * 32
    assert tags["twelve.raw.weather.parquet"] == "b" * 32
    expected = {
        "twelve.git_commit",
        "twelve.training_set_md5",
        "twelve.holdout_md5",
        "twelve.feature_service",
        "twelve.feature_service_version",
        "twelve.config_hash",
        "twelve.uv_lock_sha256",
        "twelve.dagster_run_id",
    }
    assert expected <= set(tags)
    assert "twelve.core.config" not in tags  # the values are params; the hash names them


def test_tags_refuse_a_manifest_missing_a_key():
    incomplete = _manifest()
    del incomplete["holdout_md5"]
    with pytest.raises(KeyError, match="holdout_md5"):
        manifest.manifest_tags(incomplete)


@pytest.mark.parametrize(("name", "version"), [("flight_delay_v1", "1"), ("x_v12", "12")])
def test_the_feature_service_version_comes_from_its_name(name, version):
    assert manifest.feature_service_version(name) == version


# ------------------------------------------------------------------------------------ git state
def _git(repo, *args):
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("data/\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "first")
    return tmp_path


def test_a_clean_checkout_is_its_commit_and_not_dirty(repo):
    state = manifest.git_state_of(repo)
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert state == GitState(head, dirty=False)


@pytest.mark.parametrize(
    "change",
    [
        lambda repo: (repo / "code.py").write_text("x = 2\n"),  # modified
        lambda repo: (repo / "new.py").write_text("y = 1\n"),  # untracked code
    ],
    ids=["modified", "untracked"],
)
def test_uncommitted_changes_make_the_tree_dirty(repo, change):
    change(repo)
    assert manifest.git_state_of(repo).dirty is True


def test_ignored_files_do_not_make_the_tree_dirty(repo):
    (repo / "data").mkdir()
    (repo / "data" / "big.parquet").write_bytes(b"rows")
    assert manifest.git_state_of(repo).dirty is False


def test_a_new_data_versions_dvc_files_do_not_make_the_tree_dirty(repo):
    """The pointer and the .gitignore DVC writes for new data (its md5 is in the manifest)."""
    raw = repo / "raw" / "events"
    raw.mkdir(parents=True)
    (raw / "2024-01.parquet.dvc").write_text("outs:\n- md5: 0123\n  path: 2024-01.parquet\n")
    (raw / ".gitignore").write_text("/2024-01.parquet\n")
    assert manifest.git_state_of(repo).dirty is False
    (raw / "reader.py").write_text("x = 1\n")  # code beside them still counts
    assert manifest.git_state_of(repo).dirty is True


def test_a_generated_projects_derived_data_does_not_make_the_tree_dirty(repo):
    """data/<project>/features and training parquet: data, versioned by md5, not code."""
    (repo / ".gitignore").write_text("")  # nothing git-ignored: the rule alone decides
    _git(repo, "commit", "-q", "-am", "no ignores")
    for derived in ("features/entity_features.parquet", "training/training_set.parquet"):
        (repo / "data" / "parcels" / derived).parent.mkdir(parents=True, exist_ok=True)
        (repo / "data" / "parcels" / derived).write_bytes(b"rows")
    assert manifest.git_state_of(repo).dirty is False


def test_no_repository_or_no_commit_is_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="rev-parse"):
        manifest.git_state_of(tmp_path)
    _git(tmp_path, "init", "-q")
    with pytest.raises(RuntimeError, match="rev-parse"):
        manifest.git_state_of(tmp_path)


# ----------------------------------------------------------------------------------- file facts
def test_file_md5_is_the_md5_dvc_records_and_raw_versions_come_from_the_pointers(twelve_env):
    dvc = twelve_env.dvc()
    raw = twelve_env.data_dir / "raw"
    (raw / "flights").mkdir(parents=True)
    written = {}
    for relative in ("flights/2013-01.parquet", "weather.parquet"):
        path = raw / relative
        pd.DataFrame({"file": [relative]}).to_parquet(path)
        written[relative] = dvc.track(path)
        assert file_md5(path) == written[relative]
    assert manifest.raw_input_versions(raw) == written


def test_no_tracked_raw_input_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="materialize the raw assets"):
        manifest.raw_input_versions(tmp_path)


def test_hashing_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"uv\.lock"):
        file_sha256(tmp_path / "uv.lock")
