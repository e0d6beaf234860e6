"""Guest RAM per test program (qemu-images/guest-memory.toml): the programs that run in a
guest of another size than the run's default, such as the memory-pressure scenarios in a
guest sized for them."""

from __future__ import annotations

import tomllib
from pathlib import Path

from .errors import InfraError
from .options import MIN_MEMORY_MB, parse_size_mb


def load_program_memory(path: Path, programs: tuple[str, ...]) -> dict[str, int]:
    """{program: MiB} for the programs of this run that @path sizes; a missing file sizes
    none.  A bad file stops the run, naming the entry."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise InfraError(f"{path} is not valid TOML: {e}", f"fix {path}") from None
    table = data.get("programs", {})
    if not isinstance(table, dict):
        raise InfraError(f"{path}: [programs] is not a table", f"fix {path}")
    sizes = {}
    for program, value in table.items():
        if not isinstance(value, str):
            raise InfraError(f"{path}: {program} = {value!r} is not a size", 'write it like "128M"')
        mib = parse_size_mb(value, f"{path.name}: {program}")
        if mib < MIN_MEMORY_MB:
            raise InfraError(
                f"{path}: {program} = {value!r} is too small to boot", "use 128M or more"
            )
        if program in programs:
            sizes[program] = mib
    return sizes
