"""Preview: `python -m orchestrator` on the microvm path, before it is wired in.

    python benchmarks/orchestrator_microvm.py [orchestrator options]

Runs the orchestrator unchanged except for the two seams the microvm path needs, patched in
this process (no xdist: the workers would not inherit them):
  - orchestrator.image.resolve_modules loads the machine's disk modules (virtio_mmio instead
    of virtio_pci) into the initramfs; qemu-images/init loads them as it is;
  - orchestrator.boot.qemu_command boots the PVH vmlinux on -M microvm with a virtio-mmio
    swap disk and tsc_early_khz (orchestrator.machine.microvm_command) when
    orchestrator.machine.choose_machine says so for that image, else -M pc as today.
With RESIDENCY_PREVIEW_NO_PEXPECT_DELAYS=1 it also drops pexpect's fixed sleeps (50 ms before
every send, 100 ms after closing the pty), as boot.py could.
For the benchmark's projection of what the wired path costs; not a way to run the suite.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pexpect

import orchestrator.boot as boot
import orchestrator.image as image
from orchestrator.__main__ import main
from orchestrator.cache import default_cache_dir
from orchestrator.kernel import Kernel
from orchestrator.machine import MachineChoice, choose_machine, kernel_caps, microvm_command
from orchestrator.tsc import host_tsc_rate

_choices: dict[Path, MachineChoice] = {}  # by bzImage


def install(cache: Path) -> None:
    resolve_modules = image.resolve_modules
    pc_command = boot.qemu_command
    rate = host_tsc_rate(cache)

    def modules_for(modules_dir: Path, wanted: tuple[str, ...] = image.GUEST_MODULES) -> list[Path]:
        # The Kernel is not passed down here: find its image next to its modules (a Debian
        # package tree); a kernel whose image is not found there keeps -M pc.
        tree = modules_dir.parents[2]
        images = sorted(tree.glob("boot/vmlinuz-*")) + sorted(modules_dir.glob("vmlinuz*"))
        if len(images) == 1:
            kernel = Kernel("preview", images[0], modules_dir, "")
            choice = choose_machine(kernel_caps(kernel, cache), images[0])
            _choices[images[0]] = choice
            print(f"residency preview: {images[0].name}: {choice.reason}", file=sys.stderr)
            if choice.machine == "microvm":
                wanted = choice.modules
        return resolve_modules(modules_dir, wanted)

    def command(
        cfg: boot.VmConfig,
        image: Path,
        initramfs: Path,
        swap_image: Path | None,
        append: str = "",
    ) -> list[str]:
        choice = _choices.get(image)
        if choice is None or choice.machine != "microvm":
            return pc_command(cfg, image, initramfs, swap_image, append)
        return microvm_command(cfg, choice.kernel_image, initramfs, swap_image, rate.khz, append)

    image.resolve_modules = modules_for
    boot.qemu_command = command
    if os.environ.get("RESIDENCY_PREVIEW_NO_PEXPECT_DELAYS") == "1":
        pexpect.spawn = _Undelayed  # type: ignore[misc]


class _Undelayed(pexpect.spawn):  # type: ignore[type-arg]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delaybeforesend = None
        self.delayafterclose = 0
        getattr(self, "ptyproc").delayafterclose = 0  # noqa: B009 (not in the stubs)


if __name__ == "__main__":
    install(default_cache_dir())
    sys.exit(main(sys.argv[1:]))
