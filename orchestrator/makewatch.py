"""A kernel `make` watched while it runs: its output goes to the build log only, and the
objects kbuild reports there (its `  CC      mm/shmem.o` lines) are counted as they come.

The duration and the object count of each build directory's last build are kept in the
cache, so the next build of the same tree shows an estimate of what is left.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .cache import atomic_write_text
from .progress import Task, duration

# kbuild's quiet lines: two spaces, a short upper-case verb, the target.  The verbs that
# make an object of the build are counted (not GEN, CHK, UPD, SYNC, ...).
KBUILD_LINE = re.compile(
    r"^  (?:CC|AS|LD|HOSTCC|HOSTLD|OBJCOPY|CC \[M\]|LD \[M\]|ZSTD|XZKERN|GZIP|LZ4) +\S",
    re.M,
)
POLL = 1.0  # seconds between two looks at the log


@dataclass(frozen=True)
class LastBuild:
    seconds: float
    objects: int


class BuildTimes:
    """The last build of each build directory: cache/kbuild/times.json."""

    def __init__(self, cache: Path) -> None:
        self.path = cache / "kbuild" / "times.json"

    def _load(self) -> dict[str, dict[str, float]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, build_dir: Path) -> LastBuild | None:
        entry = self._load().get(str(build_dir))
        if not isinstance(entry, dict):
            return None
        try:
            return LastBuild(float(entry["seconds"]), int(entry["objects"]))
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, build_dir: Path, last: LastBuild) -> None:
        data = self._load()
        data[str(build_dir)] = {"seconds": round(last.seconds, 1), "objects": last.objects}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(data, indent=1) + "\n")
        except OSError:
            pass  # an estimate is a convenience: a read-only cache only loses it


def estimate(objects: int, elapsed: float, last: LastBuild | None) -> str:
    """'1532 objects (last build: 4210 in 4:12), about 1:40 left'.  What is left is told
    only once this build has made a twentieth of the last one's objects: kbuild does not
    say how many an incremental build will remake, and a few objects in, no one knows."""
    text = f"{objects} object{'' if objects == 1 else 's'}"
    if last is None:
        return text
    text += f" (last build: {last.objects} in {duration(last.seconds)})"
    if objects * 20 < last.objects or objects >= last.objects:
        return text
    left = elapsed * (last.objects / objects - 1)
    return text + f", about {duration(left)} left"


def count_objects(text: str) -> int:
    return len(KBUILD_LINE.findall(text))


def run_watched(cmd: list[str], log: Path, task: Task, last: LastBuild | None) -> tuple[int, int]:
    """Run @cmd with its output appended to @log, showing on @task the objects built so far
    (and the estimate from @last).  Returns the exit status and the object count."""
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        start = out.tell()
        child = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        objects = 0
        tail = ""
        with log.open(errors="replace") as reader:
            reader.seek(start)
            while True:
                try:
                    code = child.wait(timeout=POLL)
                except subprocess.TimeoutExpired:
                    code = None
                chunk = tail + reader.read()
                cut = chunk.rfind("\n") + 1
                objects += count_objects(chunk[:cut])
                tail = chunk[cut:]
                task.update(estimate(objects, task.elapsed, last))
                if code is not None:
                    return code, objects + count_objects(tail)
