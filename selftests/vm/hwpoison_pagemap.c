// SPDX-License-Identifier: GPL-2.0
/*
 * What a process is told about a page that memory-failure handling has
 * taken away: one written page, poisoned with MADV_HWPOISON (madvise(2):
 * "handle subsequent references to those pages like a hardware memory
 * corruption"), on private anonymous memory and on every shmem backend
 * (MAP_SHARED|MAP_ANONYMOUS, memfd, a tmpfs file, SysV).
 *
 * memory_failure() unmaps the page with TTU_HWPOISON, which leaves a
 * hwpoison entry in the pte: a non-present entry that carries the PFN.
 * /proc/pid/pagemap reports it as swapped (PM_SWAP, never PM_PRESENT) and,
 * since the PFN leads to the page, with PM_FILE when the page is a shmem
 * one.  That page lookup is known bug #9 of the research notes: hwpoison
 * entries were left out of is_pfn_swap_entry() until "mm,swapops: update
 * check in is_pfn_swap_entry for hwpoison entries" (07a57a338adb, 6.9;
 * 6.1.91 and later as 7fd9665d9cbb), so a kernel without it shows no
 * PM_FILE for a poisoned shmem page.  Since "mm: shmem: don't truncate
 * page if memory failure happens" (a7605426666, 5.16) a poisoned shmem page
 * stays in the file: "any later access would return error for syscalls or
 * SIGBUS for page fault, until the file is truncated, hole punched or
 * removed".
 *
 * One page is poisoned per backend, the middle one of three written
 * pages; the checks that follow share it (<backend>_<check>).  A poisoned
 * page frame is lost until reboot, so that is five pages a run.  The
 * poisoning is confirmed by /proc/meminfo HardwareCorrupted and the frame's
 * /proc/kpageflags HWPOISON bit, not by the interfaces under test.  The
 * poisoned page is only ever read by page_read_signal(), which catches the
 * SIGBUS.  Memory-failure logs "Memory failure: ..." errors on the console,
 * so the console is drained around the calls that make it print.
 *
 * Needs CONFIG_MEMORY_FAILURE and CAP_SYS_ADMIN; without them (or with
 * vm.memory_failure_recovery at 0, which panics on a poisoned page) every
 * check skips, saying which.  The four kernels tested (6.1, 6.12, 7.2, 7.3)
 * behave alike in the code read for this (fs/proc/task_mmu.c, mm/mincore.c,
 * mm/memory-failure.c, mm/gup.c, mm/shmem.c, mm/filemap.c): 7.x only
 * rewrote the pte walks with softleaf helpers, no change of behaviour.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/kernel-page-flags.h>

#include "kselftest.h"
#include "residency_util.h"

#define NR_PAGES		3
/* the page poisoned; its neighbours stay as they were written */
#define POISON_PAGE		1

/* The checks of one poisoned page, in reporting order; FD ones last */
enum {
	CHECK_PAGEMAP_SWAP,
	CHECK_PAGEMAP_FILE,
	CHECK_NEIGHBOURS,
	CHECK_MINCORE,
	CHECK_POPULATE_READ,
	CHECK_READ_SIGBUS,
	FIRST_FD_CHECK,
	CHECK_SEEK_DATA = FIRST_FD_CHECK,
	CHECK_PREAD_EIO,
	NR_CHECKS,
};

static const char * const check_names[NR_CHECKS + 1] = {
	[CHECK_PAGEMAP_SWAP] = "pagemap_swap",
	[CHECK_PAGEMAP_FILE] = "pagemap_file",
	[CHECK_NEIGHBOURS] = "neighbours_intact",
	[CHECK_MINCORE] = "mincore_resident",
	[CHECK_POPULATE_READ] = "populate_read_ehwpoison",
	[CHECK_READ_SIGBUS] = "read_sigbus",
	[CHECK_SEEK_DATA] = "seek_data_is_data",
	[CHECK_PREAD_EIO] = "pread_eio",
};

static struct backend backends[NR_MEM_KINDS] = MEM_KIND_BACKENDS;

static char hwpoison_skip[160];
static char populate_skip[80];
static size_t ps;

/* The page table keeps the hwpoison entry: never present, reported swapped */
static bool still_poisoned(const struct region *r, const char *when)
{
	return pagemap_pages_are(when, r->addr, POISON_PAGE, 1, PME_SWAP,
				 PME_PRESENT, 1);
}

/*
 * Write the pages, poison the middle one and confirm that it is poisoned
 * by what memory-failure accounts: HardwareCorrupted grows by one page
 * (num_poisoned_pages) and the frame that was mapped there has
 * KPF_HWPOISON (pagemap.rst, kpageflags "19 - HWPOISON").  EINVAL or EPERM
 * here, with CONFIG_MEMORY_FAILURE and as CAP_SYS_ADMIN, is a failure.
 */
static int poison_page(struct region *r)
{
	char *page, desc[128];
	uint64_t entry, flags;
	long before, after;
	siginfo_t sigbus;
	int ret;

	ret = region_setup(r, NR_PAGES);
	if (ret)
		return ret;
	fill_pages(r->addr, NR_PAGES);
	page = region_page(r, POISON_PAGE);
	ret = pagemap_read(pagemap_fd, page, &entry);
	if (ret)
		return setup_failed("reading pagemap", -ret);
	if (!(entry & PME_PRESENT)) {
		ksft_print_msg("setup: the written page is not present: %s\n",
			       pagemap_describe(entry, desc, sizeof(desc)));
		return KSFT_FAIL;
	}
	before = hardware_corrupted_kb();
	ret = hwpoison_inject(page, ps, &sigbus);
	if (ret)
		return setup_failed("madvise(MADV_HWPOISON)", -ret);
	after = hardware_corrupted_kb();
	ksft_print_msg(
		"MADV_HWPOISON of page %d, pfn 0x%llx: HardwareCorrupted %ld -> %ld kB; %s\n",
		POISON_PAGE, (unsigned long long)(entry & PME_PFN_MASK), before,
		after, sigbus.si_signo ? siginfo_str(&sigbus, desc, sizeof(desc)) :
		"no SIGBUS during the call");
	if (before < 0 || after != before + (long)(ps / 1024)) {
		ksft_print_msg(
			"setup: HardwareCorrupted did not grow by one page: the page was not poisoned\n");
		return KSFT_FAIL;
	}
	if (entry & PME_PFN_MASK) {
		ret = kpageflags_read(entry & PME_PFN_MASK, &flags);
		if (ret) {
			ksft_print_msg("/proc/kpageflags unreadable (%s): HWPOISON not confirmed\n",
				       errno_name(ret));
		} else if (!(flags & (1ULL << KPF_HWPOISON))) {
			ksft_print_msg(
				"setup: /proc/kpageflags 0x%llx: the poisoned frame has no HWPOISON\n",
				(unsigned long long)flags);
			return KSFT_FAIL;
		}
	}
	if (!pagemap_read(pagemap_fd, page, &entry))
		ksft_print_msg("poisoned page: pagemap %s\n",
			       pagemap_describe(entry, desc, sizeof(desc)));
	return KSFT_PASS;
}

/*
 * pagemap.rst: bit 62 "page swapped", bit 63 "page present".  The hwpoison
 * entry is a swap-format pte: pte_to_pagemap_entry() reports every such
 * non-present pte as PM_SWAP (6.1/6.12 is_swap_pte(), 7.x the non-present
 * branch), and upstream's own memory-failure selftest asserts
 * pagemap_is_swapped() on a poisoned anonymous page (7.3's
 * tools/testing/selftests/mm/memory-failure.c).
 */
static int check_pagemap_swap(const struct region *r)
{
	return pass_if(still_poisoned(r, "poisoned page"));
}

/*
 * pagemap.rst bit 61 "page is file-page or shared-anon": a poisoned shmem
 * page is still one, and the kernel finds it from the PFN the hwpoison
 * entry carries (is_pfn_swap_entry() / softleaf_has_pfn(), fixed by
 * 07a57a338adb, in 6.1 since 6.1.91: known bug #9).  A private anonymous
 * page is neither, and the page found is anonymous: no PM_FILE.
 */
static int check_pagemap_file(const struct region *r)
{
	bool shmem = r->kind != MEM_PRIVATE_ANON;

	return pass_if(pagemap_pages_are("poisoned page", r->addr, POISON_PAGE,
					 1, shmem ? PME_FILE : 0,
					 shmem ? 0 : PME_FILE, 1));
}

/*
 * memory_failure() acts on one page frame (madvise(2): "Poison the pages
 * in the range"): the written pages either side stay present and keep
 * their data.
 */
static int check_neighbours(const struct region *r)
{
	bool ok = true;
	size_t i;

	for (i = 0; i < NR_PAGES; i++) {
		if (i == POISON_PAGE)
			continue;
		ok &= pagemap_pages_are("neighbour of the poisoned page",
					r->addr, i, 1, PME_PRESENT, PME_SWAP, 1);
		ok &= region_intact(r, i);
	}
	return pass_if(ok);
}

/*
 * mincore(2) is not written for poisoned pages; the kernel says what it
 * means to report in mm/mincore.c: "migration or hwpoison entries are
 * always uptodate" (6.1/6.12 mincore_pte_range(), 7.x mincore_swap()), so
 * the page reads as resident: its frame is still in memory.
 */
static int check_mincore(const struct region *r)
{
	bool resident;
	int ret;

	ret = mincore_page(region_page(r, POISON_PAGE), &resident);
	if (ret) {
		ksft_print_msg("mincore: %s\n", errno_name(ret));
		return KSFT_FAIL;
	}
	if (!resident)
		ksft_print_msg("mincore: the poisoned page reads as not resident\n");
	return pass_if(resident);
}

/*
 * madvise(2) ERRORS: "EHWPOISON advice is MADV_POPULATE_READ or
 * MADV_POPULATE_WRITE, and populating (prefaulting) page tables failed
 * because a HW poisoned page ... was encountered" (4ca9b3859dac, 5.14:
 * FOLL_HWPOISON in the populate's GUP flags, 6.1 to 7.3).  Nothing gets
 * mapped: the pte keeps its hwpoison entry.
 */
static int check_populate_read(const struct region *r)
{
	bool ok;

	if (populate_skip[0])
		return skip("%s", populate_skip);
	ok = madvise_result_is(region_page(r, POISON_PAGE), ps,
			       MADV_POPULATE_READ, EHWPOISON);
	ok &= still_poisoned(r, "after MADV_POPULATE_READ");
	return pass_if(ok);
}

/*
 * A read is a reference "like a hardware memory corruption" (madvise(2)):
 * SIGBUS, si_code BUS_MCEERR_AR "Hardware memory error consumed on a
 * machine check; action required", si_addr the address read and
 * si_addr_lsb "log2(sysconf(_SC_PAGESIZE))" when a full page is corrupted
 * (sigaction(2)); for shmem also a7605426666 ("SIGBUS for page fault").
 * The fault leaves the hwpoison entry in place.
 */
static int check_read_sigbus(const struct region *r)
{
	char *page = region_page(r, POISON_PAGE);
	int sig, lsb = __builtin_ctzl(ps);
	char desc[128];
	siginfo_t si;
	bool ok;

	console_drain();
	sig = page_read_signal(page, &si);
	console_settle();
	ok = sig == SIGBUS && si.si_code == BUS_MCEERR_AR &&
	     si.si_addr == page && si.si_addr_lsb == lsb;
	if (!ok)
		ksft_print_msg(
			"read of the poisoned page: %s; expected SIGBUS (BUS_MCEERR_AR) at %p, lsb %d\n",
			sig ? siginfo_str(&si, desc, sizeof(desc)) : "no signal",
			page, lsb);
	ok &= still_poisoned(r, "after the read");
	return pass_if(ok);
}

/*
 * lseek(2) SEEK_DATA: "the next location in the file greater than or equal
 * to offset containing data".  The poisoned page is kept in the file
 * (a7605426666: not truncated, so that its data is not silently replaced
 * by zeros), so SEEK_DATA from its offset finds it, and the file has no
 * hole before its end.
 */
static int check_seek_data(const struct region *r)
{
	off_t off = (off_t)POISON_PAGE * ps;
	bool ok;

	ok = seek_is(r->fd, off, SEEK_DATA, off, false);
	ok &= seek_is(r->fd, 0, SEEK_HOLE, (off_t)NR_PAGES * ps, false);
	return pass_if(ok);
}

/*
 * a7605426666: "any later access would return error for syscalls": a
 * read(2) of the poisoned page fails with EIO (shmem_file_read_iter(),
 * 5.16 to 7.3) instead of returning its data or zeros.
 */
static int check_pread_eio(const struct region *r)
{
	char *buf = malloc(ps);
	ssize_t got;
	int err;

	if (!buf)
		return setup_failed("malloc", ENOMEM);
	errno = 0;
	got = pread(r->fd, buf, ps, (off_t)POISON_PAGE * ps);
	err = errno;
	free(buf);
	if (got == -1 && err == EIO)
		return KSFT_PASS;
	ksft_print_msg("pread of the poisoned page: got %zd (%s), expected -1 (EIO)\n",
		       got, got == -1 ? errno_name(err) : "no error");
	return KSFT_FAIL;
}

static int (* const checks[NR_CHECKS])(const struct region *r) = {
	[CHECK_PAGEMAP_SWAP] = check_pagemap_swap,
	[CHECK_PAGEMAP_FILE] = check_pagemap_file,
	[CHECK_NEIGHBOURS] = check_neighbours,
	[CHECK_MINCORE] = check_mincore,
	[CHECK_POPULATE_READ] = check_populate_read,
	[CHECK_READ_SIGBUS] = check_read_sigbus,
	[CHECK_SEEK_DATA] = check_seek_data,
	[CHECK_PREAD_EIO] = check_pread_eio,
};

static size_t nr_checks(const struct backend *b)
{
	return backend_has_file(b) ? NR_CHECKS : FIRST_FD_CHECK;
}

/* Poison a page of @b and run its checks into @codes: a KSFT code */
static int poison_and_check(const struct backend *b, int *codes)
{
	struct region r;
	size_t i;
	int code;

	code = region_open(&r, b);
	if (code)
		return setup_failed(r.failed, -code);
	code = poison_page(&r);
	for (i = 0; code == KSFT_PASS && i < nr_checks(b); i++)
		codes[i] = checks[i](&r);
	region_close(&r);
	return code;
}

/* Run and report the checks of backend @b */
static void test_backend(const struct backend *b)
{
	const char *names[NR_CHECKS + 1];
	int codes[NR_CHECKS] = { 0 };
	int code;

	memcpy(names, check_names, sizeof(names));
	names[nr_checks(b)] = NULL;
	skip_reason[0] = '\0';
	if (hwpoison_skip[0])
		code = skip("%s", hwpoison_skip);
	else if (b->skip[0])
		code = skip("%s", b->skip);
	else
		code = poison_and_check(b, codes);
	report_checks(b->name, names, codes, code);
}

/* MADV_POPULATE_READ came in 5.14: EINVAL on private anonymous memory */
static void probe_populate(void)
{
	char *p = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	if (madvise(p, ps, MADV_POPULATE_READ) && errno == EINVAL)
		snprintf(populate_skip, sizeof(populate_skip),
			 "MADV_POPULATE_READ not supported (5.14+)");
	munmap(p, ps);
}

static void print_environment(void)
{
	ksft_print_msg("memory failure: %s; HardwareCorrupted %ld kB\n",
		       hwpoison_skip[0] ? hwpoison_skip : "MADV_HWPOISON usable",
		       hardware_corrupted_kb());
}

int main(void)
{
	unsigned int plan = 0;
	size_t b;

	ps = sys_pagesize();
	for (b = 0; b < NR_MEM_KINDS; b++)
		plan += nr_checks(&backends[b]);
	suite_start(plan, NULL, true);
	if (memory_failure_usable(hwpoison_skip, sizeof(hwpoison_skip)))
		hwpoison_skip[0] = '\0';
	probe_populate();
	backends_probe(backends, NR_MEM_KINDS);
	env_banner(backends, NR_MEM_KINDS, print_environment);
	for (b = 0; b < NR_MEM_KINDS; b++)
		test_backend(&backends[b]);
	suite_end();
}
