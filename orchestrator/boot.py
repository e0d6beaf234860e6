"""Step 4: boot the guest under QEMU and drive its serial console with pexpect.

`SystemUnderTest` is the one interface the runner talks to; `QemuGuest` implements it.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Protocol, TextIO

import pexpect

from .cache import atomic_write_bytes, atomic_write_text
from .errors import InfraError
from .image import CpioWriter, find_busybox

QEMU = "qemu-system-x86_64"
KVM_PROBE_TIMEOUT = 15.0
READY_RE = re.compile(
    r"<<<residency:ready uname=(\S*) mem_kb=(\d*) swap_kb=(\d*) swap_error=(\S+) "
    r"nproc=(\d+) taint=(\d+)(?: uptime=(\S+))?>>>"
)
START_RE = r"<<<residency:start (?P<nonce>{nonce}) (?P<program>\S+)>>>"
END_RE = r"<<<residency:end (?P<nonce>{nonce}) rc=(?P<rc>\d+) taint=(?P<t0>\d+),(?P<t1>\d+)>>>"
ANY_NONCE = r"[0-9a-f]+"
POWEROFF_RE = r"<<<residency:poweroff>>>"
# The kernel's last words as it stops the machine (kernel/reboot.c, "reboot: " prefix).  After
# them nothing happens in the guest, so QEMU can be ended at once, even where it would run on
# (a kernel without ACPI halts instead of powering off).
LAST_WORDS_RE = r"reboot: (?:Restarting system|System halted|Power down|Power off not available)"
SHUTDOWN_WAIT = 5.0
Outcome = Literal["completed", "timeout", "crash"]
MONITOR_BREAK = "\x01b"  # QEMU's mux escape: send a serial break to the guest
SYSRQ_KEY = "w"  # show blocked tasks: useful in the log of a hang


@dataclass(frozen=True)
class VmConfig:
    memory_mb: int = 256
    swap_mb: int = 512
    smp: int = 2
    accel: Literal["kvm", "tcg"] = "tcg"
    boot_timeout: float = 120.0
    qemu: str = QEMU


@dataclass(frozen=True)
class BootInfo:
    uname: str
    mem_kb: int
    swap_kb: int
    swap_error: str
    nproc: int
    taint: int
    seconds: float


@dataclass(frozen=True)
class Execution:
    """What happened when one test program ran in the guest."""

    program: str
    outcome: Outcome
    exit_code: int | None
    output: str
    seconds: float
    taint_before: int | None = None
    taint_after: int | None = None
    detail: str = ""


class SystemUnderTest(Protocol):
    def boot(self) -> BootInfo: ...

    def run(self, program: str, timeout: float) -> Execution: ...

    def shutdown(self) -> None: ...

    @property
    def alive(self) -> bool: ...


def kernel_cmdline(extra: str = "") -> str:
    # cryptomgr.notests: the crypto self-tests test nothing of ours, cost boot time and once
    # hung a TCG boot for over 100 s (a soft lockup in alg_test).
    args = ["console=ttyS0", "panic=-1", "loglevel=5", "rdinit=/init", "8250.nr_uarts=1",
            "cryptomgr.notests"]  # fmt: skip
    return " ".join(args + ([extra] if extra else []))


def qemu_command(
    cfg: VmConfig, image: Path, initramfs: Path, swap_image: Path | None, append: str = ""
) -> list[str]:
    cmd = [
        cfg.qemu, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-M", "pc", "-accel", cfg.accel, "-m", f"{cfg.memory_mb}M", "-smp", str(cfg.smp),
        "-kernel", str(image), "-initrd", str(initramfs), "-append", kernel_cmdline(append),
        "-chardev", "stdio,id=console,signal=off,mux=on", "-serial", "chardev:console",
        "-mon", "chardev=console,mode=readline",
    ]  # fmt: skip
    if cfg.accel == "kvm":
        cmd += ["-cpu", "host"]
    if swap_image is not None:
        cmd += [
            "-drive", f"file={swap_image},format=raw,if=none,id=swap,cache=unsafe",
            "-device", "virtio-blk-pci,drive=swap",
        ]  # fmt: skip
    return cmd


def write_swap_image(path: Path, size_mb: int, page_size: int = 4096) -> None:
    """A sparse file holding a version-1 Linux swap signature, as mkswap writes it: the
    version, the last usable page and no bad pages at offset 1024, and the magic
    SWAPSPACE2 at the end of the first page."""
    pages = size_mb * 1024 * 1024 // page_size
    header = bytearray(page_size)
    header[1024:1036] = struct.pack("<III", 1, pages - 1, 0)
    header[1036:1052] = uuid.uuid4().bytes
    header[page_size - 10 :] = b"SWAPSPACE2"
    with path.open("wb") as f:
        f.write(header)
        f.truncate(pages * page_size)


def check_qemu(qemu: str = QEMU) -> str:
    """The QEMU version line, or InfraError when QEMU is missing."""
    if shutil.which(qemu) is None:
        raise InfraError(f"{qemu} is not on PATH", "apt-get install qemu-system-x86")
    out = subprocess.run([qemu, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else qemu


def _probe_initramfs(cache: Path) -> Path:
    path = cache / "accel-probe.cpio"
    if not path.is_file():
        cpio = CpioWriter()
        cpio.dir("bin")
        cpio.dir("dev")
        cpio.char_device("dev/console", 5, 1)
        cpio.file("bin/busybox", find_busybox().read_bytes(), 0o755)
        script = b"#!/bin/busybox sh\n/bin/busybox echo KVM-PROBE-OK\n/bin/busybox poweroff -f\n"
        cpio.file("init", script, 0o755)
        atomic_write_bytes(path, cpio.finish())
    return path


def _host_boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def choose_accel(requested: str, image: Path, cache: Path, qemu: str = QEMU) -> tuple[str, str]:
    """Pick kvm or tcg and say why.  'auto' boots a one-line guest under KVM with a short
    timeout: on some hosts /dev/kvm exists and a guest hangs forever, so its existence
    proves nothing.  The verdict is kept for the host's boot and QEMU binary."""
    if requested in ("kvm", "tcg"):
        return requested, f"forced by --accel {requested}"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "/dev/kvm is missing or not accessible"
    qemu_path = shutil.which(qemu) or qemu
    key = f"{_host_boot_id()} {qemu_path} {os.stat(qemu_path).st_mtime_ns}"
    verdict_file = cache / "accel-probe.json"
    try:
        saved = json.loads(verdict_file.read_text())
        if saved.get("key") == key:
            return str(saved["accel"]), str(saved["why"]) + " (probed earlier on this host boot)"
    except (OSError, ValueError, KeyError):
        pass
    cfg = VmConfig(memory_mb=128, smp=1, accel="kvm", qemu=qemu)
    cmd = qemu_command(cfg, image, _probe_initramfs(cache), None)
    start = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=KVM_PROBE_TIMEOUT, check=False)
        ok = b"KVM-PROBE-OK" in out.stdout
        why = (
            f"a KVM probe guest booted in {time.monotonic() - start:.1f}s"
            if ok
            else f"the KVM probe guest failed (exit {out.returncode})"
        )
    except subprocess.TimeoutExpired:
        ok = False
        why = f"the KVM probe guest hung for {KVM_PROBE_TIMEOUT:.0f}s"
    accel = "kvm" if ok else "tcg"
    atomic_write_text(verdict_file, json.dumps({"key": key, "accel": accel, "why": why}))
    return accel, why


class QemuGuest:
    """One QEMU virtual machine with a swap disk, driven over its serial console."""

    def __init__(
        self, cfg: VmConfig, image: Path, initramfs: Path, console_log: Path, append: str = ""
    ) -> None:
        self.cfg = cfg
        self.image = image
        self.initramfs = initramfs
        self.console_log = console_log
        self.append = append
        self._child: pexpect.spawn[str] | None = None
        self._workdir: Path | None = None
        self._log: TextIO | None = None
        self.started = 0.0
        self.command: list[str] = []
        self.last_words = ""  # the kernel's "reboot: ..." line, once it has said it

    @property
    def alive(self) -> bool:
        return self._child is not None and self._child.isalive()

    def boot(self) -> BootInfo:
        self._workdir = Path(tempfile.mkdtemp(prefix="residency-vm-"))
        swap = None
        if self.cfg.swap_mb > 0:
            swap = self._workdir / "swap.img"
            write_swap_image(swap, self.cfg.swap_mb)
        self.command = qemu_command(self.cfg, self.image, self.initramfs, swap, self.append)
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        log = self.console_log.open("a", encoding="utf-8", errors="replace")
        log.write(f"# {' '.join(self.command)}\n")
        log.flush()
        self._log = log
        self.started = time.monotonic()
        child = pexpect.spawn(
            self.command[0], self.command[1:], encoding="utf-8", codec_errors="replace",
            timeout=self.cfg.boot_timeout, maxread=65536, echo=False,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        child.logfile_read = log
        self._child = child
        index = child.expect([READY_RE, pexpect.EOF, pexpect.TIMEOUT])
        if index != 0:
            tail = self.console_tail()
            self.kill()
            what = (
                "QEMU exited before the guest was ready"
                if index == 1
                else f"the guest was not ready after {self.cfg.boot_timeout:.0f}s"
            )
            raise InfraError(
                f"kernel {self.image.name} did not boot: {what} (last console line: {tail!r})",
                f"read {self.console_log}; check that the image boots on x86 with "
                "console=ttyS0, or raise --boot-timeout",
            )
        m = child.match
        assert isinstance(m, re.Match)
        return BootInfo(
            uname=m.group(1),
            mem_kb=int(m.group(2) or 0),
            swap_kb=int(m.group(3) or 0),
            swap_error=m.group(4),
            nproc=int(m.group(5)),
            taint=int(m.group(6)),
            seconds=time.monotonic() - self.started,
        )

    def console_tail(self) -> str:
        try:
            lines = [ln for ln in self.console_log.read_text(errors="replace").splitlines() if ln]
        except OSError:
            return ""
        return lines[-1].strip()[:200] if lines else ""

    def run(self, program: str, timeout: float) -> Execution:
        child = self._child
        if child is None or not child.isalive():
            raise InfraError("the guest is not running", "boot it before running tests")
        nonce = secrets.token_hex(6)
        start = time.monotonic()
        child.send(f"run {nonce} {program}\n")
        started = re.compile(START_RE.format(nonce=nonce))
        index = self._expect_or_gone(started, min(60, timeout))
        if index != 0:
            return self._lost(program, start, "", index, "the guest did not start the program")
        ended = re.compile(END_RE.format(nonce=nonce))
        index = self._expect_or_gone(ended, timeout)
        output = _clean(child.before if isinstance(child.before, str) else "")
        if index != 0:
            return self._lost(program, start, output, index, f"after {timeout:.0f}s")
        m = child.match
        assert isinstance(m, re.Match)
        execution = _finished(program, m, output, time.monotonic() - start)
        fingerprint = oops_fingerprint(output)
        return replace(execution, detail=fingerprint) if fingerprint else execution

    def _expect_or_gone(self, pattern: re.Pattern[str], timeout: float) -> int:
        """0 when @pattern came, 1 when the guest is gone (QEMU exited, or the kernel said
        its last words: a halted machine never exits by itself), 2 on timeout."""
        child = self._child
        assert child is not None
        index = child.expect([pattern, pexpect.EOF, pexpect.TIMEOUT, LAST_WORDS_RE], timeout)
        if index == 3:
            self.last_words = str(child.after)
            return 1
        return index

    def kernel_answers(self, timeout: float = 10.0) -> bool:
        """Is the kernel alive?  A serial break plus 'w' is a magic SysRq that the kernel
        answers from interrupt context, whatever the shell and the test are doing."""
        child = self._child
        if child is None or not child.isalive():
            return False
        child.send(MONITOR_BREAK)
        time.sleep(0.5)
        child.send(SYSRQ_KEY)
        return child.expect(["sysrq: ", pexpect.EOF, pexpect.TIMEOUT], timeout=timeout) == 0

    def _lost(self, program: str, start: float, output: str, index: int, what: str) -> Execution:
        seconds = time.monotonic() - start
        if index == 1:
            outcome: Outcome = "crash"
            detail = f"the guest died while running {program}"
            if self.last_words:
                detail = f"the kernel stopped the machine ({self.last_words!r}) while {program} ran"
        elif self.kernel_answers():
            outcome = "timeout"
            detail = f"{program} did not finish {what}; the kernel still answered SysRq"
        else:
            outcome = "crash"
            detail = f"the kernel stopped responding while {program} ran {what} (no SysRq answer)"
        tail = output if index == 1 else self.console_since(output)
        fingerprint = oops_fingerprint(tail)
        if fingerprint:
            detail += f": {fingerprint}"
        elif index == 1:
            detail += f": {self.console_tail()!r}"
        self.kill()
        return Execution(program, outcome, None, output, seconds, detail=detail)

    def console_since(self, output: str) -> str:
        """The test's output plus whatever the console printed after it (SysRq, panic)."""
        child = self._child
        rest = child.before if child is not None and isinstance(child.before, str) else ""
        return output + _clean(rest)

    def shutdown(self) -> str:
        """Ask the guest to leave and end QEMU as soon as the guest has: at QEMU's exit or at
        the kernel's last words, whichever comes first.  A guest that does not answer (it is
        busy or hung) is killed after SHUTDOWN_WAIT.  Returns how it ended."""
        child = self._child
        how = "not running"
        if child is not None and child.isalive():
            child.send("poweroff\n")
            index = child.expect([POWEROFF_RE, pexpect.EOF, pexpect.TIMEOUT], SHUTDOWN_WAIT)
            how = ("left", "exited", "no answer")[index]
            if how == "left":
                index = child.expect([pexpect.EOF, LAST_WORDS_RE, pexpect.TIMEOUT], SHUTDOWN_WAIT)
                how = ("exited", "last words", "no exit")[index]
        self.kill()
        return how

    def kill(self) -> None:
        if self._child is not None:
            self._child.close(force=True)
            self._child = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _finished(program: str, m: re.Match[str], output: str, seconds: float) -> Execution:
    return Execution(
        program=program,
        outcome="completed",
        exit_code=int(m["rc"]),
        output=output,
        seconds=seconds,
        taint_before=int(m["t0"]),
        taint_after=int(m["t1"]),
    )


def replay_console(log: str) -> tuple[BootInfo | None, list[Execution]]:
    """Re-read a saved console log into the boot and the executions it shows, with the
    same markers the live console is driven by.  A program whose end marker is missing
    died with the guest."""
    text = _clean(log)
    ready = READY_RE.search(text)
    boot = None
    if ready:
        boot = BootInfo(
            ready[1], int(ready[2] or 0), int(ready[3] or 0), ready[4], int(ready[5]),
            int(ready[6]), 0.0,
        )  # fmt: skip
    executions = []
    starts = list(re.finditer(START_RE.format(nonce=ANY_NONCE), text))
    for i, start in enumerate(starts):
        stop = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        body = text[start.end() : stop]
        end = re.search(END_RE.format(nonce=start["nonce"]), body)
        if end:
            executions.append(_finished(start["program"], end, body[: end.start()], 0.0))
        else:
            executions.append(
                Execution(start["program"], "crash", None, body, 0.0, detail="console ended")
            )
    return boot, executions


_OOPS_LINES = (
    re.compile(r"Kernel panic - not syncing: ?(.*)"),
    re.compile(r"(BUG: .*)"),
    re.compile(r"(Oops: .*)"),
    re.compile(r"(general protection fault.*)"),
    re.compile(r"WARNING: CPU: \d+ PID: \d+ at (\S+ \S+)"),
    re.compile(r"(INFO: task \S+ blocked for more than \d+ seconds)"),
    re.compile(r"(rcu: INFO: \S+ detected stalls.*)"),
)
_TRACE_FRAME = re.compile(r"^\s*(?:\[<[0-9a-f]+>\]\s*)?(\?\s*)?([A-Za-z_][\w.]*)\+0x[0-9a-f]+")
_NOT_THE_CULPRIT = {
    "dump_stack", "dump_stack_lvl", "show_stack", "panic", "__warn", "warn_slowpath_fmt",
    "report_bug", "handle_bug", "exc_invalid_op", "asm_exc_invalid_op", "die", "oops_end",
    "__die", "no_context", "page_fault_oops", "kernelmode_fixup_or_oops", "__bad_area_nosemaphore",
}  # fmt: skip


def oops_fingerprint(text: str) -> str:
    """'<first oops/panic/WARN message> in <first call-trace function>', or '' if none."""
    lines = _clean(text).splitlines()
    message = ""
    for line in lines:
        body = re.sub(r"^\[\s*\d+\.\d+\]\s*", "", line)
        for pattern in _OOPS_LINES:
            m = pattern.search(body)
            if m and not message:
                message = m.group(1).strip()
    if not message:
        return ""
    function = ""
    in_trace = False
    for line in lines:
        body = re.sub(r"^\[\s*\d+\.\d+\]\s*", "", line)
        if "Call Trace:" in body:
            in_trace = True
            continue
        m = _TRACE_FRAME.match(body)
        if in_trace and m and not m.group(1) and m.group(2) not in _NOT_THE_CULPRIT:
            function = m.group(2)
            break
    return f"{message} in {function}" if function else message


def _die_with_parent() -> None:
    """In the QEMU child: get SIGKILL when the orchestrator dies, even by SIGKILL."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def _clean(text: str) -> str:
    return text.replace("\r", "").replace("\0", "")
