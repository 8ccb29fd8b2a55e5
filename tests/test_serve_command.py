"""``twelve serve`` (``make serve``) serves the champion's bento, never just the newest one."""

import pytest

from twelve.cli.commands import serve
from twelve.cli.main import UsageError
from twelve.training.tracking import MlflowResource


@pytest.fixture
def registry(twelve_env):
    """A real MLflow registry: v1 champion (bento A), v2 newer challenger (bento B), v3 no bento."""
    client = MlflowResource(experiment="serve").client()
    client.create_registered_model("flights")
    for version, tag in ((1, "flight_delay:v1-a"), (2, "flight_delay:v2-b"), (3, None)):
        client.create_model_version("flights", source=f"file:///models/{version}")
        if tag:
            client.set_model_version_tag("flights", str(version), "bento_tag", tag)
    client.set_registered_model_alias("flights", "champion", "1")
    client.set_registered_model_alias("flights", "challenger", "2")
    client.set_registered_model_alias("flights", "candidate", "3")
    return client


def test_the_champions_bento_is_chosen_over_a_newer_challengers(registry):
    choice = serve.choose_bento(registry, "flights", "champion")
    assert choice.bento_tag == "flight_delay:v1-a"
    assert choice.describe() == (
        "bento flight_delay:v1-a: flights v1, the version holding 'champion'"
    )
    assert serve.choose_bento(registry, "flights", "challenger").bento_tag == "flight_delay:v2-b"


def test_a_version_without_a_bento_or_an_unknown_alias_says_what_to_run(registry):
    with pytest.raises(UsageError, match="flights v3 holds 'candidate' but no bento was built"):
        serve.choose_bento(registry, "flights", "candidate")
    with pytest.raises(UsageError, match="holds the alias 'nothing'"):
        serve.choose_bento(registry, "flights", "nothing")


def test_the_command_prints_the_bentoml_serve_it_would_run(registry, twelve_env, capsys):
    from twelve.cli.main import build_parser
    from twelve.deploy.bento import bento_dir

    home = twelve_env.home / "bentoml"
    bento_dir(home, "flight_delay:v1-a").mkdir(parents=True)
    (bento_dir(home, "flight_delay:v1-a") / "bento.yaml").write_text("name: flight_delay\n")
    args = build_parser().parse_args(
        ["serve", "flights", "--model", "flights", "--port", "3999", "--dry-run"]
    )
    assert args.func(args) == 0
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith("-m bentoml serve flight_delay:v1-a --host 127.0.0.1 --port 3999")
    )
    # A tag that is not in the BentoML home is refused, naming it.
    args = build_parser().parse_args(["serve", "flights", "--tag", "x:y", "--dry-run"])
    with pytest.raises(UsageError, match="bento x:y is not in BENTOML_HOME"):
        args.func(args)
