"""`python -m orchestrator [pytest and suite options]`: run the suite through pytest.

Exit status: 0 everything passed or was expected, 1 a test failed, 2 infrastructure error;
under --bisect 0 good, 1 bad, 125 untestable commit, 128 an error of the environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import ahead

SUITE = Path(__file__).with_name("suite.py")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # The guest this command booted first last time starts now, while pytest loads and the
    # plan is made (see ahead.py).
    ahead.start(args)
    import pytest

    from . import verdict

    base = [str(SUITE), "-p", "orchestrator.plugin", "-p", "no:cacheprovider", "-rN"]
    try:
        code = int(pytest.main(base + args))
    finally:
        ahead.discard()
    bisect = "--bisect" in args
    if bisect and code in (0, 1, verdict.EXIT_UNTESTABLE, verdict.EXIT_ENVIRONMENT):
        return code
    if code in (0, 1, 2) and not bisect:
        return code
    if code == pytest.ExitCode.USAGE_ERROR:
        print("residency: bad option (see the error above); run with --help", file=sys.stderr)
    elif code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("residency: no test selected; check -k and --kernel", file=sys.stderr)
    else:
        print(f"residency: pytest stopped with status {code}", file=sys.stderr)
    return verdict.EXIT_ENVIRONMENT if bisect else verdict.EXIT_INFRA


def main_exit() -> None:
    """The `residency-kselftest` console script: the same, from any directory (a kernel
    tree, for `git bisect run`); results go to this project's results/ unless --results."""
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
