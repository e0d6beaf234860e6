"""Part files: each process of a run writes one small JSON file per boot, per program
result and per infrastructure error under <run>/parts/; the controller reads them back
into their records to assemble the reports."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .cache import atomic_write_text
from .console import BootInfo
from .errors import InfraRecord
from .run import ProgramResult


@dataclass(frozen=True)
class BootRecord:
    """One boot of a guest: which kernel, what the guest saw, where its console went."""

    kernel: str
    uname: str
    mem_kb: int
    swap_kb: int
    swap_error: str
    nproc: int
    taint: int
    seconds: float
    console_log: str  # relative to the run directory
    machine: str = "pc"  # the QEMU machine it booted on, and why
    machine_why: str = ""
    ahead: bool = False  # started before the run knew it wanted it (ahead.py)

    @classmethod
    def of(
        cls,
        kernel: str,
        info: BootInfo,
        console_log: str,
        machine: str = "pc",
        why: str = "",
        ahead: bool = False,
    ) -> BootRecord:
        return cls(kernel=kernel, console_log=console_log, machine=machine, machine_why=why,
                   ahead=ahead, **asdict(info))  # fmt: skip


class Parts:
    """The part files of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.root = run_dir / "parts"

    def _write(self, kind: str, name: str, data: dict[str, Any]) -> None:
        atomic_write_text(self.root / kind / name, json.dumps(data) + "\n")

    def _read(self, kind: str) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((self.root / kind).glob("*.json"))]

    def add_boot(self, record: BootRecord, worker: str, number: int) -> None:
        self._write("boots", f"{record.kernel}-{worker}-{number}.json", asdict(record))

    def add_infra(self, record: InfraRecord) -> None:
        self._write("infra", f"{record.kernel}.json", asdict(record))

    def add_program(self, result: ProgramResult) -> None:
        self._write("programs", f"{result.kernel}--{result.program}.json", result.to_json())

    def boots(self) -> list[BootRecord]:
        return [BootRecord(**d) for d in self._read("boots")]

    def infra(self) -> list[InfraRecord]:
        return [InfraRecord(**d) for d in self._read("infra")]

    def programs(self) -> list[ProgramResult]:
        return [ProgramResult.from_json(d) for d in self._read("programs")]
