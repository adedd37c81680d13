"""`python -m orderflow_events write-schemas [DIR]` | `check-schemas [DIR]`."""

import argparse
import sys
from pathlib import Path

from orderflow_events.compat import catalog_breaking_changes
from orderflow_events.schemas import (
    REGENERATE_HINT,
    default_schema_dir,
    generated_schemas,
    load_schemas,
    stale_files,
    write_schemas,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orderflow_events")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("write-schemas", "(re)generate the JSON Schema files from the models"),
        ("check-schemas", "fail when the schema files are stale or the models break them"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("dir", nargs="?", type=Path, default=None, help="schema directory")
    args = parser.parse_args(argv)
    directory: Path = args.dir or default_schema_dir()
    if args.command == "write-schemas":
        changed = write_schemas(directory)
        print(f"{len(changed)} file(s) changed in {directory}")
        return 0
    breaks = catalog_breaking_changes(load_schemas(directory), generated_schemas())
    problems = stale_files(directory)
    for line in [f"breaking: {item}" for item in breaks] + [f"stale: {p}" for p in problems]:
        print(line, file=sys.stderr)
    if breaks:
        print(
            "a breaking change needs a new event version (.v2) published alongside", file=sys.stderr
        )
    if problems:
        print(f"schemas in {directory} are stale: {REGENERATE_HINT}", file=sys.stderr)
    return 1 if breaks or problems else 0


if __name__ == "__main__":
    sys.exit(main())
