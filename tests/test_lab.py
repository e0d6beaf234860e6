"""The VM lifecycle, the retry policy, part files and report assembly, on a fake
SystemUnderTest: no QEMU."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.assemble import assemble
from orchestrator.boot import SystemUnderTest
from orchestrator.console import BootInfo, Execution
from orchestrator.errors import BootCrash, InfraError
from orchestrator.guestmem import load_program_memory
from orchestrator.kernel import ImageSource, KernelIdentity
from orchestrator.lab import Lab
from orchestrator.machine import proven_failure
from orchestrator.oops import oops_fingerprint
from orchestrator.parts import Parts
from orchestrator.plan import Built, Plan, PlannedKernel, SizedImage
from orchestrator.plugin import guest_of
from orchestrator.qemu import VmConfig
from orchestrator.verdict import EXIT_FAILED, EXIT_INFRA, EXIT_OK

RECORDED = Path(__file__).parent / "fixtures" / "recorded"


@pytest.fixture(autouse=True)
def not_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Lab names console logs after its xdist worker ("main" outside one); these tests
    expect "main" even when this project's own tests run under -n."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


PASS = "TAP version 13\n1..2\nok 1 a\nok 2 b\n"
FAIL = "TAP version 13\n1..2\nok 1 a\nnot ok 2 b\n"


class FakeGuest:
    """Plays back scripted executions; `crash` ends the guest as a real one would."""

    def __init__(self, log: Path, script: list[tuple[str, str]], events: list[str]) -> None:
        self.log = log
        self.script = script
        self.events = events
        self.up = False

    def boot(self) -> BootInfo:
        if not self.script:
            raise InfraError("no boot", "fix it")
        self.up = True
        self.events.append(f"boot {self.log.name}")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.write_text("console\n")  # as QemuGuest's console does
        return BootInfo("6.1.0-test", 200000, 524284, "none", 2, 0, 1.5)

    def run(self, program: str, timeout: float) -> Execution:
        outcome, tap = self.script.pop(0)
        self.events.append(f"run {program} {outcome}")
        if outcome == "crash":
            self.up = False
            return Execution(program, "crash", None, tap, 1.0, detail="guest died")
        return Execution(program, "completed", 0 if tap == PASS else 1, tap, 1.0, 0, 0)

    def shutdown(self) -> str:
        self.events.append("shutdown")
        self.up = False
        return "exited"

    def kill(self) -> None:
        self.events.append("kill")
        self.up = False

    @property
    def alive(self) -> bool:
        return self.up


def make_plan(tmp_path: Path, retry: bool = False) -> Plan:
    identity = KernelIdentity(
        "k1", "/k1", "0" * 64, "6.1.0-test #1", ImageSource("/k1"), version="6.1.0"
    )
    return Plan(
        run_id="r", run_dir=str(tmp_path), results_root=str(tmp_path.parent), started="s",
        vm=VmConfig(), accel_why="forced", qemu_version="QEMU", timeout=10,
        programs=["p1", "p2"], kernels=[PlannedKernel("k1", "/k1", "/i1", identity)],
        built=Built(False, False), expectations=None, retry_failed=retry,
    )  # fmt: skip


def lab_with(plan: Plan, script: list[tuple[str, str]]) -> tuple[Lab, list[str]]:
    events: list[str] = []

    def start(plan: Plan, kernel: PlannedKernel, log: Path) -> SystemUnderTest:
        return FakeGuest(log, script, events)

    return Lab(plan, start), events


def test_a_crash_costs_a_fresh_guest_and_boots_are_recorded(tmp_path: Path) -> None:
    plan = make_plan(tmp_path)
    lab, events = lab_with(plan, [("crash", "TAP version 13\n1..2\nok 1 a\n"), ("ok", PASS)])
    assert lab.run("k1", "p1").failed
    assert not lab.run("k1", "p2").failed
    lab.close()
    assert events == [
        "boot main-boot1.log", "run p1 crash", "kill", "boot main-boot2.log",
        "run p2 ok", "kill",
    ]  # fmt: skip
    boots = Parts(tmp_path).boots()
    assert [(b.kernel, b.console_log) for b in boots] == [
        ("k1", "console/k1/main-boot1.log"),
        ("k1", "console/k1/main-boot2.log"),
    ]
    report = assemble(plan, 1)
    assert report.exit_status == EXIT_FAILED and report.complete
    entry = report.to_json()["kernels"][0]
    assert entry["boots"] == 2 and entry["uname_r"] == "6.1.0-test"
    assert entry["kind"] == "image" and entry["version"] == "6.1.0"
    assert entry["console"] == ["console/k1/main-boot1.log", "console/k1/main-boot2.log"]
    ran_in = {p["program"]: p["console"] for p in report.to_json()["programs"]}
    assert ran_in == {"p1": ["console/k1/main-boot1.log"], "p2": ["console/k1/main-boot2.log"]}


def test_retry_passing_is_flaky(tmp_path: Path) -> None:
    plan = make_plan(tmp_path, retry=True)
    lab, events = lab_with(plan, [("ok", FAIL), ("ok", PASS)])
    result = lab.run("k1", "p1")
    assert [(s.subtest, s.status.value, s.flaky) for s in result.subtests] == [
        ("a", "pass", False),
        ("b", "pass", True),
    ]
    assert events[:3] == ["boot main-boot1.log", "run p1 ok", "kill"], "a fresh VM"
    assert result.console == ["console/k1/main-boot1.log", "console/k1/main-boot2.log"]
    saved = json.loads((tmp_path / "parts" / "programs" / "k1--p1.json").read_text())
    assert saved["subtests"][1]["flaky"] is True


def test_a_guest_that_does_not_boot_is_an_infrastructure_error_once(tmp_path: Path) -> None:
    plan = make_plan(tmp_path)
    lab, events = lab_with(plan, [])
    for program in ("p1", "p2"):
        with pytest.raises(InfraError):
            lab.run("k1", program)
    assert [r.step for r in Parts(tmp_path).infra()] == ["boot"]
    assert events == [], "the second program does not try to boot again"
    report = assemble(plan, 1)
    assert report.exit_status == EXIT_INFRA and not report.complete
    assert report.to_json()["infrastructure_errors"] == [
        {"kernel": "k1", "step": "boot", "cause": "no boot", "fix": "fix it", "untestable": False}
    ]


def test_close_kills_and_an_interrupted_run_exits_2(tmp_path: Path) -> None:
    plan = make_plan(tmp_path)
    lab, events = lab_with(plan, [("ok", PASS), ("ok", PASS)])
    lab.run("k1", "p1")
    lab.close()
    assert events[-1] == "kill"
    report = assemble(plan, 2)  # pytest.ExitCode.INTERRUPTED
    assert report.exit_status == EXIT_INFRA and not report.complete
    assert assemble(plan, 0).exit_status == EXIT_OK


class MachineGuest(FakeGuest):
    """A guest that boots only on the machines in `boots_on`, and says which it was."""

    def __init__(self, log: Path, kernel: PlannedKernel, boots_on: set[str],
                 events: list[str]) -> None:  # fmt: skip
        super().__init__(log, [("ok", PASS)] * 4, events)
        self.kernel = kernel
        self.boots_on = boots_on

    def boot(self) -> BootInfo:
        machine = self.kernel.machine
        self.events.append(f"boot {machine} {self.kernel.kernel_file} {self.kernel.initramfs}")
        if machine not in self.boots_on:
            raise InfraError(f"did not boot on {machine}", "fix it")
        self.up = True
        return BootInfo("6.1.0-test", 200000, 524284, "none", 2, 0, 1.5)


def microvm_plan(tmp_path: Path) -> Plan:
    plan = make_plan(tmp_path)
    kernel = replace(plan.kernels[0], machine="microvm", machine_why="-M microvm: it has all",
                     boot_image="/vmlinux", initramfs="/i-mmio", pc_initramfs="/i-pci")  # fmt: skip
    return replace(plan, kernels=[kernel], cache=str(tmp_path / "cache"))


def machine_lab(plan: Plan, boots_on: set[str]) -> tuple[Lab, list[str]]:
    events: list[str] = []

    def start(plan: Plan, kernel: PlannedKernel, log: Path) -> SystemUnderTest:
        return MachineGuest(log, kernel, boots_on, events)

    return Lab(plan, start), events


def test_microvm_boots_and_the_report_says_so(tmp_path: Path) -> None:
    plan = microvm_plan(tmp_path)
    lab, events = machine_lab(plan, {"microvm", "pc"})
    lab.run("k1", "p1")
    lab.close()
    assert events[0] == "boot microvm /vmlinux /i-mmio"
    entry = assemble(plan, 0).to_json()["kernels"][0]
    assert (entry["machine"], entry["machine_why"]) == ("microvm", "-M microvm: it has all")


def test_a_failed_microvm_boot_falls_back_to_pc_and_is_remembered(tmp_path: Path) -> None:
    plan = microvm_plan(tmp_path)
    lab, events = machine_lab(plan, {"pc"})
    assert not lab.run("k1", "p1").failed
    lab.close()
    lab.run("k1", "p2")  # a second VM of the same process goes to pc at once
    lab.close()
    assert [e for e in events if e.startswith("boot")] == [
        "boot microvm /vmlinux /i-mmio", "boot pc /k1 /i-pci", "boot pc /k1 /i-pci",
    ]  # fmt: skip
    report = assemble(plan, 0)
    assert report.exit_status == EXIT_OK and not report.infrastructure_errors
    entry = report.to_json()["kernels"][0]
    assert entry["machine"] == "pc"
    assert "a microvm boot of this kernel failed" in entry["machine_why"]
    assert "did not boot on microvm" in entry["machine_why"]
    # Kept for the host's boot: another process (a worker, the next run) starts on pc.
    failure = proven_failure(Path(plan.cache), plan.kernels[0].identity.image_sha256)
    assert failure == "did not boot on microvm"
    other, events = machine_lab(plan, {"microvm", "pc"})
    other.run("k1", "p1")
    assert events[0] == "boot pc /k1 /i-pci"


def test_each_guest_size_boots_its_own_image_on_either_machine(tmp_path: Path) -> None:
    """A program sized in guest-memory.toml boots an image holding just it; after a failed
    microvm boot both sizes go on with their -M pc twins."""
    plan = microvm_plan(tmp_path)
    images = (SizedImage(256, "/i-mmio", "/i-pci", ("p1",)),
              SizedImage(128, "/s-mmio", "/s-pci", ("p2",), lean=True))  # fmt: skip
    kernel = replace(plan.kernels[0], images=images)
    plan = replace(plan, kernels=[kernel], program_memory={"p2": 128})
    assert kernel.has_program("p2") and not kernel.has_program("p3")
    events: list[str] = []
    vms: list[VmConfig] = []

    def start(plan: Plan, kernel: PlannedKernel, log: Path) -> SystemUnderTest:
        vms.append(plan.vm)
        return MachineGuest(log, kernel, {"microvm", "pc"}, events)

    lab = Lab(plan, start)
    lab.run("k1", "p2")
    lab.run("k1", "p1")
    lab.close()
    assert [e for e in events if e.startswith("boot")] == [
        "boot microvm /vmlinux /s-mmio", "boot microvm /vmlinux /i-mmio",
    ]  # fmt: skip
    # The sized guest is lean (its program fills its RAM), the other is not.
    assert [(vm.memory_mb, vm.lean) for vm in vms] == [(128, True), (256, False)]
    lab, events = machine_lab(replace(plan, cache=str(tmp_path / "cache2")), {"pc"})
    lab.run("k1", "p2")
    lab.run("k1", "p1")
    lab.close()
    assert [e for e in events if e.startswith("boot")] == [
        "boot microvm /vmlinux /s-mmio", "boot pc /k1 /s-pci", "boot pc /k1 /i-pci",
    ]  # fmt: skip
    # The plan file keeps them.
    assert PlannedKernel.from_json(kernel.to_json()) == kernel


class OopsOnMicrovm(MachineGuest):
    """A kernel that oopsed while booting on microvm, as 7.3-rc7 once did under TCG
    (its console log is a fixture); on pc it boots."""

    def boot(self) -> BootInfo:
        if self.kernel.machine == "microvm":
            self.events.append("boot microvm")
            log = RECORDED / "debian-7.3-boot-int3-oops-console.log"
            fingerprint = oops_fingerprint(log.read_text())
            raise BootCrash(f"did not boot: QEMU exited: {fingerprint}", "read it", fingerprint)
        return super().boot()


def test_a_kernel_oops_on_microvm_falls_back_but_is_not_remembered(tmp_path: Path) -> None:
    plan = microvm_plan(tmp_path)
    events: list[str] = []

    def start(plan: Plan, kernel: PlannedKernel, log: Path) -> SystemUnderTest:
        return OopsOnMicrovm(log, kernel, {"microvm", "pc"}, events)

    lab = Lab(plan, start)
    assert not lab.run("k1", "p1").failed
    lab.close()
    assert [e for e in events if e.startswith("boot")] == ["boot microvm", "boot pc /k1 /i-pci"]
    entry = assemble(plan, 0).to_json()["kernels"][0]
    assert "Oops: int3" in entry["machine_why"]
    # The kernel crashed, not the machine: the next process tries microvm again.
    assert proven_failure(Path(plan.cache), plan.kernels[0].identity.image_sha256) is None


def test_a_kernel_that_boots_nowhere_is_one_infrastructure_error(tmp_path: Path) -> None:
    plan = microvm_plan(tmp_path)
    lab, events = machine_lab(plan, set())
    with pytest.raises(InfraError, match="did not boot on pc"):
        lab.run("k1", "p1")
    assert len(events) == 2
    assert proven_failure(Path(plan.cache), plan.kernels[0].identity.image_sha256) is None, (
        "a microvm failure is only proven when pc boots"
    )
    assert [r.cause for r in Parts(tmp_path).infra()] == ["did not boot on pc"]


def test_a_forced_microvm_does_not_fall_back(tmp_path: Path) -> None:
    plan = microvm_plan(tmp_path)
    plan = replace(plan, kernels=[replace(plan.kernels[0], pc_initramfs="")])
    lab, events = machine_lab(plan, {"pc"})
    with pytest.raises(InfraError, match="did not boot on microvm"):
        lab.run("k1", "p1")
    assert len(events) == 1


def test_a_program_sized_otherwise_gets_its_own_guest(tmp_path: Path) -> None:
    plan = replace(make_plan(tmp_path), programs=["p1", "p2", "p3"], program_memory={"p2": 128})
    plan = replace(plan, programs=["p2", "p1", "p3"])  # the sized one boots first
    assert (plan.memory_for("p1"), plan.memory_for("p2")) == (256, 128)
    memory: list[int] = []
    events: list[str] = []

    class SizedGuest(FakeGuest):
        def boot(self) -> BootInfo:
            info = super().boot()
            return replace(info, mem_kb=memory[-1] * 800)  # what a guest of that RAM sees

    def start(plan: Plan, kernel: PlannedKernel, log: Path) -> SystemUnderTest:
        memory.append(plan.vm.memory_mb)
        return SizedGuest(log, [("ok", PASS)] * 3, events)

    lab = Lab(plan, start)
    for program in ("p2", "p1", "p3"):
        lab.run("k1", program)
    lab.close()
    assert memory == [128, 256]
    report = assemble(plan, 0).to_json()
    assert report["kernels"][0]["mem_kb"] == 256 * 800, "the RAM of the run's own guests"
    assert report["config"]["program_memory_mb"] == {"p2": 128}


def test_guest_memory_file(tmp_path: Path) -> None:
    sizes = tmp_path / "guest-memory.toml"
    assert load_program_memory(sizes, ("a",)) == {}
    sizes.write_text('[programs]\na = "128M"\nb = "1G"\n')
    assert load_program_memory(sizes, ("a", "c")) == {"a": 128}
    sizes.write_text('[programs]\na = "64M"\n')
    with pytest.raises(InfraError, match="too small"):
        load_program_memory(sizes, ("a",))
    sizes.write_text("[programs]\na = 12\n")
    with pytest.raises(InfraError, match="not a size"):
        load_program_memory(sizes, ("a",))
    sizes.write_text("[programs\n")
    with pytest.raises(InfraError, match="not valid TOML"):
        load_program_memory(sizes, ("a",))
    shipped = Path(__file__).resolve().parent.parent / "qemu-images" / "guest-memory.toml"
    programs = ("shmem_visibility", "shmem_pressure", "anon_pressure")
    assert load_program_memory(shipped, programs) == {"shmem_pressure": 128, "anon_pressure": 128}


def two_kernel_plan(workers: int = 1) -> Plan:
    """Kernels k1 and k2, programs a, b and c, b in a guest of its own size."""
    identity = KernelIdentity("k", "/k", "0" * 64, "v", ImageSource("/k"))
    kernels = [PlannedKernel(n, "/k", "/i", replace(identity, name=n)) for n in ("k1", "k2")]
    return Plan(
        run_id="r", run_dir="/r", results_root="/", started="s", vm=VmConfig(),
        accel_why="", qemu_version="", timeout=1, programs=["a", "b", "c"], kernels=kernels,
        built=Built(False, False), expectations=None, retry_failed=False,
        program_memory={"b": 128}, workers=workers,
    )  # fmt: skip


def test_programs_with_a_guest_of_their_own_size_go_first() -> None:
    plan = two_kernel_plan()
    kernels = plan.kernels
    assert plan.cases() == [("k1", "b"), ("k2", "b"), ("k1", "a"), ("k1", "c"),
                            ("k2", "a"), ("k2", "c")]  # fmt: skip
    # One kernel, two workers: each starts with one of the two longest.
    two = replace(plan, kernels=kernels[:1], programs=["a", "b", "c", "d"], workers=2)
    assert not two.grouped
    assert two.cases() == [("k1", "b"), ("k1", "c"), ("k1", "a"), ("k1", "d")]
    one_kernel = replace(two, programs=["a", "b", "c"], program_memory={"b": 128, "c": 128})
    assert one_kernel.cases() == [("k1", "b"), ("k1", "c"), ("k1", "a")]  # dealt round robin
    assert not one_kernel.grouped


def test_a_matrix_hands_out_whole_guests() -> None:
    plan = two_kernel_plan(workers=2)
    assert plan.grouped  # as many kernels as workers: a worker takes a guest's tests
    # Not dealt: xdist hands out whole guests in this order, the sized ones first.
    assert plan.cases() == [("k1", "b"), ("k2", "b"), ("k1", "a"), ("k1", "c"),
                            ("k2", "a"), ("k2", "c")]  # fmt: skip
    assert [plan.group(k, p) for k, p in plan.cases()] == [
        "k1/128M", "k2/128M", "k1/256M", "k1/256M", "k2/256M", "k2/256M"
    ]  # fmt: skip
    assert guest_of(plan, "orchestrator/suite.py::test_program[k2:c]") == "k2/256M"
    assert guest_of(plan, "orchestrator/suite.py::test_program[k1:b]") == "k1/128M"
    assert guest_of(plan, "odd") == "odd"
    assert not replace(plan, workers=3).grouped and not replace(plan, workers=1).grouped


STALE = (RECORDED / "debian-7.2-thp_pagemap-stale-int3-console.log").read_text()


def test_a_crash_on_the_emulators_stale_breakpoint_is_run_again(tmp_path: Path) -> None:
    """Under TCG with two vCPUs (the plan's default VM) a guest that died on a breakpoint
    no longer in memory (oops.stale_breakpoint) ran the program for nothing: once more, in
    a fresh VM; twice is an infrastructure error, never results."""
    lab, events = lab_with(make_plan(tmp_path / "a"), [("crash", STALE), ("ok", PASS)])
    result = lab.run("k1", "p1")
    assert not result.failed and result.outcome == "completed"
    assert "run again after p1: guest died" in result.detail
    assert events == ["boot main-boot1.log", "run p1 crash", "kill", "boot main-boot2.log",
                      "run p1 ok"]  # fmt: skip
    assert result.console == ["console/k1/main-boot1.log", "console/k1/main-boot2.log"]

    plan = make_plan(tmp_path / "b")
    lab, events = lab_with(plan, [("crash", STALE), ("crash", STALE)])
    with pytest.raises(InfraError, match="twice on QEMU's stale breakpoint"):
        lab.run("k1", "p1")
    assert assemble(plan, 1).infrastructure_errors

    # On KVM, or with one vCPU, the crash is the kernel's.
    for name, vm in (("kvm", VmConfig(accel="kvm")), ("one", VmConfig(smp=1))):
        plan = replace(make_plan(tmp_path / name), vm=vm)
        lab, events = lab_with(plan, [("crash", STALE), ("ok", PASS)])
        assert lab.run("k1", "p1").outcome == "crash"
        assert events == ["boot main-boot1.log", "run p1 crash"]


class StaleAtFirstBoot(MachineGuest):
    """A kernel whose first boot dies on the emulator's stale breakpoint, as 7.3-rc7 did."""

    def boot(self) -> BootInfo:
        self.events.append(f"boot {self.kernel.machine}")
        if self.events.count(f"boot {self.kernel.machine}") == 1:
            raise BootCrash("did not boot: Oops: int3", "read it", "Oops: int3", True)
        self.up = True
        return BootInfo("6.1.0-test", 200000, 524284, "none", 2, 0, 1.5)


def test_a_boot_crash_on_a_stale_breakpoint_is_booted_once_more(tmp_path: Path) -> None:
    events: list[str] = []

    def start(plan: Plan, kernel: PlannedKernel, log: Path) -> SystemUnderTest:
        return StaleAtFirstBoot(log, kernel, {"pc"}, events)

    plan = make_plan(tmp_path)  # on pc: no other machine to fall back to
    lab = Lab(plan, start)
    assert not lab.run("k1", "p1").failed
    assert [e for e in events if e.startswith("boot")] == ["boot pc", "boot pc"]
    assert not assemble(plan, 0).infrastructure_errors
