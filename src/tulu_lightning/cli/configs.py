"""`python -m tulu_lightning configs list|copy|show`: the configs that come with tulu_lightning.

    python -m tulu_lightning configs list                     # name, command, what it is
    python -m tulu_lightning configs copy demo/sft my_sft.yaml
    python -m tulu_lightning configs show dpo                 # every field: type, default, comment
    python -m tulu_lightning configs show demo/dpo            # ... and its value in that config

The bundled configs are the repository's `configs/` folder; a wheel carries them inside the package
(`tulu_lightning/configs`, a link to it in the source tree).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import tulu_lightning


def configure_parser(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("list", help="list the bundled configs", description="list the bundled configs")
    copy = verbs.add_parser("copy", help="copy a bundled config to edit", description="copy a bundled config")
    copy.add_argument("name", help="a name from `configs list`, e.g. demo/sft")
    copy.add_argument("dest", help="a new file, or a directory to copy it into")
    copy.add_argument("--overwrite", action="store_true", help="replace an existing DEST file")
    show = verbs.add_parser(
        "show",
        help="every field of a config: type, default, comment (and the value in a config file)",
        description="every field of a config: type, default, comment (and the value in a config file)",
    )
    show.add_argument(
        "what", help="an objective (sft, dpo, ...), a command (waywardness, eval, decontaminate), a name from "
        "`configs list` (demo/sft) or a YAML file",
    )  # fmt: skip
    show.add_argument("overrides", nargs="*", help="dotted key=value overrides applied to a config file")


def bundled_dir() -> Path:
    """Where the bundled configs are: inside the installed package, else the source tree's `configs/`."""
    package = Path(tulu_lightning.__file__).resolve().parent
    for candidate in (package / "configs", package.parent.parent / "configs"):
        if candidate.is_dir():
            return candidate
    from tulu_lightning.errors import CLIError

    raise CLIError(f"no bundled configs found (looked in {package / 'configs'}); reinstall tulu_lightning")


def bundled_configs() -> dict[str, Path]:
    """Name (its path under configs/ without `.yaml`, e.g. `demo/sft`) -> file, sorted by name."""
    root = bundled_dir()
    files = sorted(root.rglob("*.yaml"))
    return {str(p.relative_to(root).with_suffix("")): p for p in files}


def find_bundled(name: str) -> Path:
    configs = bundled_configs()
    key = name.removeprefix("configs/").removesuffix(".yaml")
    if key not in configs:
        from tulu_lightning.errors import CLIError

        raise CLIError(
            f"no bundled config named {name!r}; `python -m tulu_lightning configs list` lists them"
        )
    return configs[key]


def describe_file(path: Path) -> tuple[str, str]:
    """(the command that reads the config, the first line of its opening comment)."""
    from tulu_lightning.config_docs import command_of

    command = command_of(path)
    if command == "fit":
        from tulu_lightning.config import load_yaml

        command = f"fit ({load_yaml(path)['objective']})"
    summary = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if not line.lstrip("# ").startswith("python -m"):
            summary = line.lstrip("# ").strip()
            break
    return command or path.parent.name, summary


def run(args: argparse.Namespace) -> int:
    return {"list": list_configs, "copy": copy_config, "show": show_config}[args.verb](args)


def list_configs(args: argparse.Namespace) -> int:
    rows = [(name, *describe_file(path)) for name, path in bundled_configs().items()]
    width = max(len(name) for name, _, _ in rows)
    command_width = max(len(command) for _, command, _ in rows)
    for name, command, summary in rows:
        print(f"{name:<{width}}  {command:<{command_width}}  {summary[:100]}")
    print(f"({len(rows)} configs in {bundled_dir()}; `configs copy NAME DEST` copies one, `configs show NAME` "
          "lists its fields)")  # fmt: skip
    return 0


def copy_config(args: argparse.Namespace) -> int:
    from tulu_lightning.errors import OutputError
    from tulu_lightning.files import check_outputs, write_text

    source = find_bundled(args.name)
    dest = Path(args.dest)
    if dest.is_dir() or args.dest.endswith(("/", "\\")):
        dest = dest / source.name
    if dest.exists() and not args.overwrite:
        raise OutputError(f"{dest}: already exists; pass --overwrite to replace it")
    if dest.exists() and not dest.is_file():
        raise OutputError(f"{dest}: not a file")
    check_outputs([dest], [source])
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_text(dest, source.read_text(encoding="utf-8"))
    print(f"copied {args.name} to {dest}")
    return 0


def show_config(args: argparse.Namespace) -> int:
    from tulu_lightning.config_docs import describe, file_schema, schema_named

    if Path(args.what).is_file():
        path: Path | None = Path(args.what)
    elif "/" in args.what:
        path = find_bundled(args.what)
    else:
        path = None
    if path is None:
        print(describe(schema_named(args.what)), end="")
    else:
        print(describe(file_schema(path), path, args.overrides), end="")
    return 0
