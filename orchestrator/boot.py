"""Step 4: a guest under QEMU with its swap disk, driven over its serial console.

`SystemUnderTest` is the interface the VM lifecycle (lab.py) talks to; `QemuGuest`
implements it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any, Protocol, TextIO

import pexpect

from .console import BootInfo, Console, Execution
from .errors import BootCrash, InfraError
from .launch import Launch, drop_copies, launch, remove_workdir
from .oops import oops_fingerprint, stale_breakpoint
from .qemu import Machine, VmConfig, guest_command
from .swap import write_swap_image


class SystemUnderTest(Protocol):
    """A machine the tests run on, one program at a time."""

    def boot(self) -> BootInfo:
        """Start it; InfraError when it does not become ready."""
        ...

    def run(self, program: str, timeout: float) -> Execution:
        """Run one test program; a crash or a hang ends the machine."""
        ...

    def shutdown(self) -> str:
        """End it gracefully (killing it when it does not answer); says how it ended."""
        ...

    def kill(self) -> None:
        """End it at once."""
        ...

    @property
    def alive(self) -> bool: ...


class QemuGuest:
    """One QEMU virtual machine with a swap disk, driven over its serial console."""

    def __init__(
        self,
        cfg: VmConfig,
        image: Path,
        initramfs: Path,
        console_log: Path,
        append: str = "",
        machine: Machine = "pc",
    ) -> None:
        self.cfg = cfg
        self.machine = machine
        self.image = image  # the bzImage on pc, the PVH vmlinux on microvm
        self.initramfs = initramfs
        self.console_log = console_log
        self.append = append
        self._child: pexpect.spawn[str] | None = None
        self._console: Console | None = None
        self._workdir: Path | None = None
        self._log: TextIO | None = None
        self.started = 0.0
        self.command: list[str] = []
        self.booted_ahead = False  # started before the run asked for it (ahead.py)
        self._copies: list[int | None] = []  # memfds of the boot files QEMU reads

    @property
    def workdir(self) -> Path | None:
        """The scratch directory of its swap disk, while it runs."""
        return self._workdir

    @property
    def alive(self) -> bool:
        return self._child is not None and self._child.isalive()

    @property
    def last_words(self) -> str:
        """The kernel's "reboot: ..." line, once it has said it."""
        return self._console.last_words if self._console is not None else ""

    def command_in(self, workdir: Path) -> list[str]:
        """Its QEMU command line, with its swap disk in @workdir and the cached boot files."""
        swap = workdir / "swap.img" if self.cfg.swap_mb > 0 else None
        return guest_command(
            self.cfg, self.machine, self.image, self.initramfs, swap, self.append
        )  # fmt: skip

    def start(self) -> None:
        """Start QEMU; boot() then waits for the guest to be ready."""
        workdir = Path(tempfile.mkdtemp(prefix="residency-vm-"))
        if self.cfg.swap_mb > 0:
            write_swap_image(workdir / "swap.img", self.cfg.swap_mb)
        self.take(launch(self.command_in(workdir), workdir, self.console_log, self.cfg.lean))

    def take(self, started: Launch) -> None:
        """Drive @started, QEMU started with this guest's command (by start(), or before the
        run by ahead.py), over its console."""
        self.command = started.command
        self._workdir = started.workdir
        self._log = started.log
        self._copies = started.copies
        self.console_log = started.log_path
        self.started = started.started
        child = _Started(started, encoding="utf-8", codec_errors="replace",
                         timeout=self.cfg.boot_timeout, maxread=65536, echo=False)  # fmt: skip
        child.logfile_read = started.log
        # pexpect sleeps 50 ms before every send (for programs that read a terminal while
        # switching its modes); the guest's init reads its commands line by line.
        child.delaybeforesend = None
        self._child = child
        self._console = Console(child, self.console_log)

    def move_log(self, path: Path) -> None:
        """Log the console to @path from now on, with what it has logged so far (a guest
        started before its run directory existed: see ahead.py)."""
        if self._log is None or self._console is None or self._child is None:
            raise InfraError("the guest is not running", "start it before moving its log")
        old = self.console_log
        self._log.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(old, path)
        log = path.open("a", encoding="utf-8", errors="replace")
        self._child.logfile_read = log
        self._log = log
        self.console_log = path
        self._console.log = path
        old.unlink(missing_ok=True)

    def boot(self) -> BootInfo:
        if self._child is None:
            self.start()
        assert self._console is not None
        ready = self._console.wait_ready(self.cfg.boot_timeout, self.started)
        if isinstance(ready, str):
            tail = self._console.tail()
            self.kill()
            cause = f"kernel {self.image.name} did not boot: {ready} (last console line: {tail!r})"
            fix = (
                f"read {self.console_log}; check that the image boots on x86 with "
                "console=ttyS0, or raise --boot-timeout"
            )
            try:
                text = self.console_log.read_text(errors="replace")
            except OSError:
                text = ""
            fingerprint = oops_fingerprint(text)
            if fingerprint:
                raise BootCrash(f"{cause}: {fingerprint}", fix, fingerprint, stale_breakpoint(text))
            raise InfraError(cause, fix, untestable=True)
        drop_copies(self._copies)
        return ready

    def console_tail(self) -> str:
        return self._console.tail() if self._console is not None else ""

    def run(self, program: str, timeout: float) -> Execution:
        console = self._console
        if console is None or not self.alive:
            raise InfraError("the guest is not running", "boot it before running tests")
        execution = console.run(program, timeout)
        if execution.outcome != "completed":
            self.kill()  # after a crash or a hang the next program gets a fresh VM
        return execution

    def shutdown(self) -> str:
        """Ask the guest to leave and end QEMU as soon as the guest has: at QEMU's exit or at
        the kernel's last words, whichever comes first.  A guest that does not answer (it is
        busy or hung) is killed after SHUTDOWN_WAIT.  Returns how it ended."""
        how = "not running"
        if self._console is not None and self.alive:
            how = self._console.power_off()
        self.kill()
        return how

    def kill(self) -> None:
        """SIGKILL QEMU and reap it.  Nothing of the guest is kept (its disk is scratch), so
        there is nothing to wait for: pexpect's own close() would sleep 0.1 s, then try
        SIGHUP, SIGCONT and SIGINT with 0.1 s pauses before SIGKILL."""
        child = self._child
        if child is not None:
            if child.isalive() and child.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGKILL)
                with contextlib.suppress(pexpect.ExceptionPexpect, ChildProcessError):
                    child.wait()
            ptyproc = getattr(child, "ptyproc", None)  # pexpect's stubs do not show it
            if ptyproc is not None:
                ptyproc.delayafterclose = 0
            with contextlib.suppress(pexpect.ExceptionPexpect, OSError):
                child.close(force=True)
            self._child = None
        drop_copies(self._copies)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            remove_workdir(self._workdir)
            self._workdir = None


class _Started(pexpect.spawn):  # type: ignore[type-arg]
    """pexpect's spawn, over a QEMU that launch() started."""

    def __init__(self, started: Launch, **kwargs: Any) -> None:
        self._started = started
        super().__init__(started.proc.argv[0], started.proc.argv[1:], **kwargs)

    def _spawnpty(self, args: list[Any], **kwargs: Any) -> Any:
        return self._started.proc
