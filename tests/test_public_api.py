"""The package's public surface is explicit: __all__ names exactly what it exports."""

import ssfr_xl


def test_all_names_exist() -> None:
    missing = [name for name in ssfr_xl.__all__ if not hasattr(ssfr_xl, name)]
    assert missing == []


def test_all_lists_every_public_name() -> None:
    public = {name for name in vars(ssfr_xl) if not name.startswith("_")}
    modules = {name for name, value in vars(ssfr_xl).items()
               if type(value).__name__ == "module"}
    assert public - modules - set(ssfr_xl.__all__) == set()


def test_version_matches_the_cli() -> None:
    from click.testing import CliRunner

    from ssfr_xl.cli import cli

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert ssfr_xl.__version__ in result.output
