# SPDX-License-Identifier: GPL-2.0
#
# Minimal build, run and install rules for kselftest-style test directories.
#
# A test directory's Makefile sets some of
#   TEST_GEN_PROGS   programs built here and run by run_tests
#   TEST_GEN_FILES   files built here, installed but not run
#   TEST_PROGS       scripts kept in the source tree and run by run_tests
#   TEST_FILES       data files kept in the source tree and installed
#   LOCAL_HDRS       headers every generated program depends on
#   EXTRA_CLEAN      more files for "make clean" to remove
# then includes this file.  Generated programs go to $(OUTPUT), which
# defaults to the current directory.  Extra prerequisites of the programs
# (say a shared .c file) are declared after the include, e.g.
#   $(TEST_GEN_PROGS): residency_util.c
# and every .c prerequisite is compiled and linked into the program.
#
# Targets: all (default), run_tests, install (needs INSTALL_PATH), clean,
# emit_tests.  "make install" copies the programs, TEST_FILES, config and
# settings flat into $(INSTALL_PATH), as a per-directory kselftest install
# does, and writes $(INSTALL_PATH)/kselftest-list.txt with one
# "collection:program" line (e.g. "vm:shmem_lseek") per runnable test.
# INSTALL_SUBDIR=vm puts the files into $(INSTALL_PATH)/vm instead, the
# layout the kernel's run_kselftest.sh expects next to the list.

.DELETE_ON_ERROR:

ifeq ($(strip $(OUTPUT)),)
override OUTPUT := $(CURDIR)
else
override OUTPUT := $(abspath $(OUTPUT))
endif

COLLECTION ?= $(notdir $(CURDIR))
INSTALL_SUBDIR ?=

# Static binaries need no C library in the guest that runs them.
LDFLAGS += -static

TEST_GEN_PROGS := $(addprefix $(OUTPUT)/,$(TEST_GEN_PROGS))
TEST_GEN_FILES := $(addprefix $(OUTPUT)/,$(TEST_GEN_FILES))

# What run_tests runs: generated programs from $(OUTPUT), scripts in place
KSFT_RUN_LIST := $(TEST_GEN_PROGS) $(addprefix $(CURDIR)/,$(TEST_PROGS))

# Per-test timeout in seconds: "timeout=N" in ./settings, else 45
KSFT_TIMEOUT := $(lastword 45 $(shell sed -n 's/^timeout=\([0-9][0-9]*\).*/\1/p' \
				  settings 2>/dev/null))

.PHONY: all run_tests install clean emit_tests

all: $(TEST_GEN_PROGS) $(TEST_GEN_FILES)

$(OUTPUT):
	mkdir -p $@

$(OUTPUT)/%: %.c $(LOCAL_HDRS) | $(OUTPUT)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(filter %.c,$^) $(LDLIBS) -o $@

# Mirrors the kselftest runner: a TAP 13 stream with one result per program,
# the program's own output indented as "# " diagnostics.  Exit code 4 is a
# skip, 124 from timeout(1) a time-out.  Fails if any program failed.
run_tests: all
	@exec 4>&1; \
	n=0; failed=0; \
	echo "TAP version 13"; \
	echo "1..$(words $(KSFT_RUN_LIST))"; \
	if command -v timeout >/dev/null 2>&1; then \
		to="timeout $(KSFT_TIMEOUT)"; \
		echo "# timeout set to $(KSFT_TIMEOUT)"; \
	else \
		to=; \
		echo "# timeout(1) not found, running without a time limit"; \
	fi; \
	for t in $(KSFT_RUN_LIST); do \
		n=$$((n + 1)); \
		name="selftests: $(COLLECTION): $${t##*/}"; \
		echo "# $$name"; \
		if [ ! -x "$$t" ]; then \
			echo "not ok $$n $$name # not executable: $$t"; \
			failed=1; \
			continue; \
		fi; \
		rc=$$( { { cd "$(OUTPUT)" && $$to "$$t" 2>&1; echo $$? >&3; } | \
			sed 's/^/# /' >&4; } 3>&1 ); \
		case "$$rc" in \
		0) echo "ok $$n $$name";; \
		4) echo "ok $$n $$name # SKIP";; \
		124) echo "not ok $$n $$name # TIMEOUT $(KSFT_TIMEOUT) seconds"; \
		     failed=1;; \
		*) echo "not ok $$n $$name # exit=$$rc"; failed=1;; \
		esac; \
	done; \
	exit $$failed

emit_tests:
	@for t in $(notdir $(TEST_GEN_PROGS) $(TEST_PROGS)); do \
		echo "$(COLLECTION):$$t"; \
	done

KSFT_INSTALL_DIR = $(patsubst %/,%,$(INSTALL_PATH)/$(INSTALL_SUBDIR))

install: all
	$(if $(INSTALL_PATH),,$(error INSTALL_PATH must be set for install))
	mkdir -p "$(KSFT_INSTALL_DIR)"
	$(if $(strip $(TEST_GEN_PROGS) $(TEST_GEN_FILES)), \
		cp -p $(TEST_GEN_PROGS) $(TEST_GEN_FILES) "$(KSFT_INSTALL_DIR)/")
	$(if $(strip $(TEST_PROGS) $(TEST_FILES) $(wildcard config settings)), \
		cp -p $(TEST_PROGS) $(TEST_FILES) $(wildcard config settings) \
		"$(KSFT_INSTALL_DIR)/")
	printf "%s\n" $(addprefix $(COLLECTION):,$(notdir $(TEST_GEN_PROGS) $(TEST_PROGS))) \
		> "$(INSTALL_PATH)/kselftest-list.txt"

clean:
	rm -f $(TEST_GEN_PROGS) $(TEST_GEN_FILES) $(EXTRA_CLEAN)
