"""`python -m orderflow_events write-schemas [DIR]` | `check-schemas [DIR]`
| `asyncapi [--out FILE] [--check]` | `reference [--out FILE] [--check]`."""

import argparse
import sys
from pathlib import Path

from orderflow_events import asyncapi, reference
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
    for name, help_text in (
        ("asyncapi", "the AsyncAPI 3.0 document of every topic (YAML; JSON for a .json file)"),
        ("reference", "the events reference page (Markdown)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--out", type=Path, default=None, help="write here (else stdout)")
        command.add_argument(
            "--check", action="store_true", help="fail when --out is not current; write nothing"
        )
    args = parser.parse_args(argv)
    if args.command in {"asyncapi", "reference"}:
        return _document(args.command, args.out, check=args.check)
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


def _document(command: str, out: Path | None, *, check: bool) -> int:
    """Print, write or check a generated document."""
    generator = asyncapi if command == "asyncapi" else reference
    if out is None:
        if check:
            print("--check needs --out FILE", file=sys.stderr)
            return 2
        sys.stdout.write(
            asyncapi.render() if command == "asyncapi" else reference.reference_markdown()
        )
        return 0
    if check:
        if generator.is_current(out):
            return 0
        print(f"{out} is stale: {generator.REGENERATE_HINT}", file=sys.stderr)
        return 1
    changed = generator.write(out)
    print(f"{out} {'written' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
