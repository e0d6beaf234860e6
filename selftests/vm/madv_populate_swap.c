// SPDX-License-Identifier: GPL-2.0
/*
 * MADV_POPULATE_READ, MADV_POPULATE_WRITE and MADV_WILLNEED over memory that
 * is swapped out, across fork(), through read-only shared mappings and
 * across a hole; the companion of madv_populate, which covers fresh memory.
 *
 * madvise(2) says a populate faults in every page of the range "as if" it
 * was read (or written) and fails with EINVAL where the mapping lacks the
 * permission and with ENOMEM where the range is not fully mapped; swapped
 * pages are swapped in like on any fault.  MADV_WILLNEED starts reading
 * swapped pages into the swap cache and maps nothing: for shmem the page
 * table entry stays clear, so pagemap shows none while mincore() finds the
 * page in the swap cache (pagemap.rst, "Exceptions for Shared Memory";
 * mincore(2)).
 *
 * The guest runs with vm.page-cluster=0: no swap readahead, so a populate
 * of part of a swapped range swaps in only that part.  Pagemap is asserted;
 * what stays in swap is confirmed by smaps Swap:, the page-outs by the swap
 * writes of /proc/vmstat and the reads of MADV_WILLNEED by its swap reads.
 * Transparent huge pages are off for every range.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

#define NR_PAGES	32
/* the partial populates cover pages [PART_FIRST, PART_FIRST + PART_PAGES) */
#define PART_FIRST	8
#define PART_PAGES	16
/* the hole test: pages [HOLE_FIRST, HOLE_FIRST + HOLE_PAGES) are unmapped */
#define HOLE_FIRST	8
#define HOLE_PAGES	8
#define MAX_DIAGS	4
/* memory.reclaim requests to get paged-out pages out of the swap cache */
#define RECLAIM_ROUNDS	50
#define WRITEBACK_POLLS	1000
/* mincore() polls, 10 ms apart, while MADV_WILLNEED's reads complete */
#define WILLNEED_POLLS	500

enum {
	BACKEND_PRIVATE_ANON,
	BACKEND_SHARED_ANON,
	BACKEND_MEMFD,
	BACKEND_TMPFS,
	BACKEND_SYSV,
	NR_BACKENDS,
};

#define ON_PRIVATE	(1U << BACKEND_PRIVATE_ANON)
#define ON_SYSV		(1U << BACKEND_SYSV)
#define ON_SHMEM	((1U << BACKEND_SHARED_ANON) | (1U << BACKEND_MEMFD) | \
			 (1U << BACKEND_TMPFS) | ON_SYSV)
#define ON_ALL		(ON_PRIVATE | ON_SHMEM)
/* what mmap(MAP_FIXED) can map: all but a SysV segment */
#define ON_MMAP		(ON_ALL & ~ON_SYSV)

static struct backend backends[NR_BACKENDS] = {
	[BACKEND_PRIVATE_ANON] = { .name = "private_anon",
				   .kind = MEM_PRIVATE_ANON },
	[BACKEND_SHARED_ANON] = { .name = "shared_anon",
				  .kind = MEM_SHARED_ANON },
	[BACKEND_MEMFD] = { .name = "memfd", .kind = MEM_MEMFD },
	[BACKEND_TMPFS] = { .name = "tmpfs", .kind = MEM_TMPFS,
			    .mount_if_none = true },
	[BACKEND_SYSV] = { .name = "sysv", .kind = MEM_SYSV_SHM },
};

static size_t ps;

static bool is_anon(const struct region *r)
{
	return r->kind == MEM_PRIVATE_ANON;
}

/*
 * Pages @first.. of @r are swapped out as pagemap.rst describes: a swap
 * entry for private anonymous memory, nothing at all for shmem.
 */
static bool pages_swapped(const char *when, const struct region *r,
			  size_t first, size_t npages)
{
	if (is_anon(r))
		return pagemap_pages_are(when, r->addr, first, npages, PME_SWAP,
					 PME_PRESENT, MAX_DIAGS);
	return pagemap_pages_are(when, r->addr, first, npages, 0,
				 PME_NONE_MASK, MAX_DIAGS);
}

/* ... or mapped: PRESENT, and FILE for shmem ("file-page or shared-anon") */
static bool pages_present(const char *when, const struct region *r,
			  size_t first, size_t npages)
{
	uint64_t set = PME_PRESENT | (is_anon(r) ? 0 : PME_FILE);

	return pagemap_pages_are(when, r->addr, first, npages, set, PME_SWAP,
				 MAX_DIAGS);
}

/* Pages @first.. of @r hold what fill_pages() wrote; mismatches printed */
static bool pages_intact(const struct region *r, size_t first, size_t npages)
{
	unsigned int bad = 0;
	size_t i;

	for (i = first; i < first + npages; i++)
		if (!page_filled_with(region_page(r, i), i, page_byte(i),
				      bad >= MAX_DIAGS))
			bad++;
	return !bad;
}

/* smaps Swap: of the region is @npages pages */
static bool swap_pages_are(const char *when, const struct region *r,
			   size_t npages)
{
	unsigned long kb = 0, want = npages * ps / 1024;
	int ret;

	ret = smaps_vma_field_kb(r->addr, "Swap", &kb, NULL);
	if (!ret && kb == want)
		return true;
	ksft_print_msg("%s: smaps Swap: %lu kB%s%s, expected %lu kB\n", when,
		       kb, ret ? ", " : "", ret ? errno_name(ret) : "", want);
	return false;
}

static int written(struct region *r)
{
	int ret = region_setup(r, NR_PAGES);

	if (!ret)
		fill_pages(r->addr, NR_PAGES);
	return ret;
}

/* NR_PAGES written and paged out, confirmed by the swap writes */
static int setup_swapped(struct region *r)
{
	return region_written_paged_out(r, written, 0, 0);
}

/*
 * Part of a swapped-out range populated: madvise(2) faults in that part
 * only; with page-cluster 0 nothing around it is read, so the pages before
 * and after stay swapped out, as smaps Swap: confirms.
 */
static int part_populate(struct region *r, int advice)
{
	size_t after = PART_FIRST + PART_PAGES;
	bool ok = true;

	ok &= madvise_result_is(region_page(r, PART_FIRST), PART_PAGES * ps,
				advice, 0);
	ok &= pages_present("inside the populated part", r, PART_FIRST,
			    PART_PAGES);
	ok &= pages_swapped("before the populated part", r, 0, PART_FIRST);
	ok &= pages_swapped("after the populated part", r, after,
			    NR_PAGES - after);
	ok &= swap_pages_are("after the partial populate", r,
			     NR_PAGES - PART_PAGES);
	ok &= pages_intact(r, PART_FIRST, PART_PAGES);
	return pass_if(ok);
}

static int test_swapped_part_populate_read(struct region *r)
{
	return part_populate(r, MADV_POPULATE_READ);
}

static int test_swapped_part_populate_write(struct region *r)
{
	return part_populate(r, MADV_POPULATE_WRITE);
}

/*
 * The swapped-out range made read-only: a file is mapped again with
 * PROT_READ, memory without a file is mprotect()ed.
 */
static int setup_swapped_read_only(struct region *r)
{
	int ret = setup_swapped(r);

	if (ret)
		return ret;
	if (r->fd < 0) {
		if (mprotect(r->addr, r->len, PROT_READ))
			return setup_failed("mprotect(PROT_READ)", errno);
		return KSFT_PASS;
	}
	region_unmap(r);
	ret = region_map(r, NR_PAGES, PROT_READ, 0);
	return ret ? setup_failed(r->failed, -ret) : KSFT_PASS;
}

/*
 * madvise(2): MADV_POPULATE_WRITE of a mapping without write permission
 * fails with EINVAL, and (commit 4ca9b3859dac) checks the permissions
 * before faulting anything in: every page stays in swap.
 */
static int test_read_only_swapped_populate_write_einval(struct region *r)
{
	bool ok = true;

	ok &= madvise_result_is(r->addr, r->len, MADV_POPULATE_WRITE, EINVAL);
	ok &= pages_swapped("after the refused populate", r, 0, NR_PAGES);
	ok &= swap_pages_are("after the refused populate", r, NR_PAGES);
	return pass_if(ok);
}

/* ... while MADV_POPULATE_READ swaps every page in, data intact */
static int test_read_only_swapped_populate_read(struct region *r)
{
	bool ok = true;

	ok &= madvise_result_is(r->addr, r->len, MADV_POPULATE_READ, 0);
	ok &= pages_present("after the populate", r, 0, NR_PAGES);
	ok &= swap_pages_are("after the populate", r, 0);
	ok &= pages_intact(r, 0, NR_PAGES);
	return pass_if(ok);
}

/*
 * A populate across a hole: pages [0, HOLE_FIRST) are the region's first
 * mapping, [HOLE_FIRST, HOLE_FIRST + HOLE_PAGES) unmapped, the rest a second
 * mapping put there with MAP_FIXED (the next pages of the same file, or
 * fresh memory).  madvise(2): ENOMEM, "the range is not fully mapped".  The
 * range is faulted in from its start (faultin_page_range() walks it in
 * order, commit 4ca9b3859dac), so the pages before the hole are populated;
 * madvise(2) only promises that "some page tables might have been
 * populated", so the pages after it are reported, not asserted.
 */
static int hole_populate(struct region *r, int advice)
{
	size_t after = HOLE_FIRST + HOLE_PAGES, rest = NR_PAGES - after;
	int flags = MAP_FIXED;
	unsigned char vec;
	uint64_t entry = 0;
	char desc[128];
	bool ok = true;
	char *second;
	int ret;

	ret = region_setup(r, NR_PAGES);
	if (ret)
		return ret;
	flags |= is_anon(r) ? MAP_PRIVATE : MAP_SHARED;
	flags |= r->fd < 0 ? MAP_ANONYMOUS : 0;
	second = mmap(region_page(r, after), rest * ps, PROT_READ | PROT_WRITE,
		      flags, r->fd, r->fd < 0 ? 0 : after * ps);
	if (second == MAP_FAILED)
		return setup_failed("mmap(MAP_FIXED)", errno);
	thp_disable_range(second, rest * ps);
	if (munmap(region_page(r, HOLE_FIRST), HOLE_PAGES * ps))
		return setup_failed("munmap of the hole", errno);
	/* the hole is there: mincore() finds nothing mapped (ENOMEM) */
	ret = mincore(region_page(r, HOLE_FIRST), ps, &vec) ? errno : 0;
	if (ret != ENOMEM) {
		ksft_print_msg("setup: mincore() of the unmapped hole: %s, expected ENOMEM\n",
			       ret ? errno_name(ret) : "success");
		return KSFT_FAIL;
	}

	ok &= madvise_result_is(r->addr, r->len, advice, ENOMEM);
	ok &= pages_present("before the hole", r, 0, HOLE_FIRST);
	if (!pagemap_read(pagemap_fd, second, &entry))
		ksft_print_msg("first page after the hole: %s\n",
			       pagemap_describe(entry, desc, sizeof(desc)));
	return pass_if(ok);
}

static int test_hole_between_fixed_populate_read_enomem(struct region *r)
{
	return hole_populate(r, MADV_POPULATE_READ);
}

static int test_hole_between_fixed_populate_write_enomem(struct region *r)
{
	return hole_populate(r, MADV_POPULATE_WRITE);
}

/*
 * fork() of private anonymous memory that is swapped out.  The child gets
 * copies of the swap entries (pagemap.rst: PM_SWAP in both), sees the data
 * and swaps it in with a populate; the parent's entries stay swap entries.
 * The child's checks, each a bit of its exit status:
 */
enum {
	CHILD_SWAP_ENTRIES = 1,		/* every page SWAP before any access */
	CHILD_POPULATE_READ = 2,	/* POPULATE_READ: 0, PRESENT, data */
	CHILD_POPULATE_WRITE = 4,	/* then POPULATE_WRITE: 0, PRESENT, data */
};

static __noreturn void fork_child(const struct region *r)
{
	int failed = 0;

	/* pagemap_fd is the parent's: /proc/self/pagemap binds at open */
	close(pagemap_fd);
	if (suite_pagemap_open()) {
		ksft_print_msg("child: cannot open /proc/self/pagemap\n");
		_exit(CHILD_SWAP_ENTRIES | CHILD_POPULATE_READ |
		      CHILD_POPULATE_WRITE);
	}
	if (!pages_swapped("child, before any access", r, 0, NR_PAGES))
		failed |= CHILD_SWAP_ENTRIES;
	if (!madvise_result_is(r->addr, r->len, MADV_POPULATE_READ, 0) ||
	    !pagemap_pages_are("child, after POPULATE_READ", r->addr, 0,
			       NR_PAGES, PME_PRESENT, PME_SWAP, MAX_DIAGS) ||
	    !pages_intact(r, 0, NR_PAGES))
		failed |= CHILD_POPULATE_READ;
	/* the pages are still the parent's too: the write copies them */
	if (!madvise_result_is(r->addr, r->len, MADV_POPULATE_WRITE, 0) ||
	    !pagemap_pages_are("child, after POPULATE_WRITE", r->addr, 0,
			       NR_PAGES, PME_PRESENT | PME_MMAP_EXCLUSIVE,
			       PME_SWAP, MAX_DIAGS) ||
	    !pages_intact(r, 0, NR_PAGES))
		failed |= CHILD_POPULATE_WRITE;
	fflush(stdout);
	_exit(failed);
}

/*
 * Fork with the range swapped out and let the child run its checks;
 * *@failed gets the bits of those that failed.  A KSFT code for the setup.
 */
static int fork_swapped(struct region *r, int *failed)
{
	int status;
	pid_t pid;

	if (!pages_swapped("parent, before fork", r, 0, NR_PAGES))
		return KSFT_FAIL;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return setup_failed("fork", errno);
	if (!pid)
		fork_child(r);
	if (waitpid(pid, &status, 0) != pid)
		return setup_failed("waitpid", errno);
	if (!WIFEXITED(status)) {
		ksft_print_msg("child ended with status 0x%x\n", status);
		return KSFT_FAIL;
	}
	*failed = WEXITSTATUS(status);
	return KSFT_PASS;
}

/* The check @bit of the child */
static int fork_child_check(struct region *r, int bit)
{
	int failed = 0, ret = fork_swapped(r, &failed);

	return ret ? ret : pass_if(!(failed & bit));
}

static int test_fork_swapped_child_swap_entries(struct region *r)
{
	return fork_child_check(r, CHILD_SWAP_ENTRIES);
}

static int test_fork_swapped_child_populate_read(struct region *r)
{
	return fork_child_check(r, CHILD_POPULATE_READ);
}

static int test_fork_swapped_child_populate_write(struct region *r)
{
	return fork_child_check(r, CHILD_POPULATE_WRITE);
}

/*
 * After the child swapped the pages in and wrote its own copies, the
 * parent's page table entries are the swap entries they were; the data
 * comes back from swap intact.
 */
static int test_fork_swapped_parent_keeps_swap(struct region *r)
{
	int failed = 0, ret = fork_swapped(r, &failed);
	bool ok = true;

	if (ret)
		return ret;
	ok &= pages_swapped("parent, after the child's populates", r, 0,
			    NR_PAGES);
	ok &= swap_pages_are("parent, after the child's populates", r,
			     NR_PAGES);
	ok &= pages_intact(r, 0, NR_PAGES);
	return pass_if(ok);
}

/*
 * The frames of the NR_PAGES pages of @r, read from pagemap while they are
 * in memory, to follow them into and out of the swap cache through
 * /proc/kpageflags.  A KSFT code: a SKIP when pagemap hides PFNs.
 */
static int read_pfns(const struct region *r, uint64_t *pfns)
{
	uint64_t entry;
	size_t i;
	int ret;

	for (i = 0; i < NR_PAGES; i++) {
		ret = pagemap_read(pagemap_fd, region_page(r, i), &entry);
		if (ret)
			return setup_failed("reading pagemap", -ret);
		pfns[i] = entry & PME_PFN_MASK;
		if (!pfns[i])
			return skip(
				"cannot follow the pages into the swap cache: pagemap hides PFNs (needs CAP_SYS_ADMIN)");
	}
	ret = pfns_in_swap_cache(pfns, NR_PAGES, NULL);
	if (ret < 0)
		return skip("cannot read /proc/kpageflags: %s", errno_name(-ret));
	if (ret) {
		ksft_print_msg("setup: %d of %d pages in the swap cache before their page-out\n",
			       ret, NR_PAGES);
		return KSFT_FAIL;
	}
	return KSFT_PASS;
}

/*
 * Get the paged-out pages of cgroup @cg, whose frames were @pfns, out of
 * the swap cache with memory.reclaim, until /proc/kpageflags (a signal
 * apart from mincore()) shows none of them there.  Reclaim cannot take a
 * page whose write to swap is still in flight, and how long that takes is
 * the host's business under TCG, so a round in which a page is under
 * writeback is not counted (up to WRITEBACK_POLLS such rounds).  A KSFT
 * code.
 */
static int evict_swap_cache(const char *cg, const uint64_t *pfns)
{
	int i = 0, polls = 0, ret, cached = 0, writeback = 0;

	for (;;) {
		cached = pfns_in_swap_cache(pfns, NR_PAGES, &writeback);
		if (cached < 0)
			return setup_failed("reading /proc/kpageflags", -cached);
		if (!cached || i == RECLAIM_ROUNDS || polls == WRITEBACK_POLLS)
			break;
		ret = memcg_reclaim(cg);
		if (ret)
			return setup_failed("writing memory.reclaim", -ret);
		if (writeback)
			polls++;
		else
			i++;
		usleep(10000);
	}
	ksft_print_msg(
		"%d of %d pages in the swap cache (%d under writeback) after %d memory.reclaim request(s) to their cgroup, %d more while pages were under writeback\n",
		cached, NR_PAGES, writeback, i, polls);
	if (cached)
		print_pfns_in_swap_cache(pfns, NR_PAGES);
	/* charged to its own cgroup, clean, unmapped: reclaim must take it */
	return cached ? KSFT_FAIL : KSFT_PASS;
}

/*
 * Poll mincore() of the range until every page is resident, at most
 * WILLNEED_POLLS times: the reads MADV_WILLNEED starts complete
 * asynchronously.  Returns whether they all were.
 */
static bool poll_all_resident(const struct region *r)
{
	unsigned char vec[NR_PAGES];
	size_t i, resident = 0;
	int poll, ret;

	for (poll = 1; poll <= WILLNEED_POLLS; poll++) {
		ret = mincore_range(r->addr, r->len, vec);
		if (ret) {
			ksft_print_msg("mincore: %s\n", errno_name(ret));
			return false;
		}
		for (resident = 0, i = 0; i < NR_PAGES; i++)
			resident += vec[i] & 1;
		if (resident == NR_PAGES)
			break;
		usleep(10000);
	}
	ksft_print_msg("mincore: %zu of %d pages resident after %d poll(s)\n",
		       resident, NR_PAGES, poll > WILLNEED_POLLS ?
		       WILLNEED_POLLS : poll);
	return resident == NR_PAGES;
}

/*
 * MADV_WILLNEED of swapped-out pages that left the swap cache: madvise(2)
 * "expect access in the near future"; for swapped anonymous and shmem
 * pages the kernel reads them into the swap cache (madvise_willneed())
 * and maps nothing.  So mincore() reports them resident once the reads
 * complete, pagemap still shows them swapped out (none for shmem), and they
 * are still swapped out (smaps Swap:).  The reads themselves are confirmed
 * by pswpin.
 */
static int willneed_checks(struct region *r)
{
	long before, reads;
	bool ok = true;

	before = swap_reads();
	ok &= madvise_result_is(r->addr, r->len, MADV_WILLNEED, 0);
	ok &= poll_all_resident(r);
	reads = swap_reads() - before;
	ksft_print_msg("MADV_WILLNEED read %ld pages from swap (pswpin+zswpin)\n",
		       reads);
	if (before < 0 || reads < NR_PAGES) {
		ksft_print_msg("%d pages out of the swap cache: %d reads expected\n",
			       NR_PAGES, NR_PAGES);
		ok = false;
	}
	ok &= pages_swapped("after MADV_WILLNEED", r, 0, NR_PAGES);
	ok &= swap_pages_are("after MADV_WILLNEED", r, NR_PAGES);
	ok &= pages_intact(r, 0, NR_PAGES);
	return pass_if(ok);
}

static int test_willneed_swapped_reads_into_swap_cache(struct region *r)
{
	uint64_t pfns[NR_PAGES];
	char cg[PATH_MAX + 64];
	int ret, back;

	if (!swap_present())
		return skip("no swap configured");
	if (swap_reads() < 0)
		return skip("kernel lacks VM event counters (no pswpin in /proc/vmstat)");
	ret = memcg_create(cg, sizeof(cg));
	if (ret)
		return memcg_skip[0] ?
		       skip("cannot evict pages from the swap cache: %s", memcg_skip) :
		       setup_failed("creating a cgroup", -ret);
	/* the pages are charged to the cgroup they are written from */
	ret = memcg_enter(cg);
	if (ret) {
		ret = setup_failed("entering the test cgroup", -ret);
	} else {
		ret = written(r);
		back = memcg_enter(memcg_home);
		if (back)
			ksft_exit_fail_msg("cannot move back to cgroup %s: %s\n",
					   memcg_home, errno_name(back));
	}
	if (!ret)
		ret = read_pfns(r, pfns);
	if (!ret)
		ret = region_pageout(r, 0, NR_PAGES);
	if (!ret)
		ret = evict_swap_cache(cg, pfns);
	if (!ret)
		ret = willneed_checks(r);
	region_close(r);
	memcg_remove(cg);
	return ret;
}

static const struct subtest subtests[] = {
	{ "swapped_part_populate_read", test_swapped_part_populate_read,
	  ON_ALL, setup_swapped },
	{ "swapped_part_populate_write", test_swapped_part_populate_write,
	  ON_ALL, setup_swapped },
	{ "read_only_swapped_populate_write_einval",
	  test_read_only_swapped_populate_write_einval, ON_SHMEM,
	  setup_swapped_read_only },
	{ "read_only_swapped_populate_read", test_read_only_swapped_populate_read,
	  ON_SHMEM, setup_swapped_read_only },
	{ "hole_between_fixed_populate_read_enomem",
	  test_hole_between_fixed_populate_read_enomem, ON_MMAP, NULL },
	{ "hole_between_fixed_populate_write_enomem",
	  test_hole_between_fixed_populate_write_enomem, ON_MMAP, NULL },
	{ "fork_swapped_child_swap_entries", test_fork_swapped_child_swap_entries,
	  ON_PRIVATE, setup_swapped },
	{ "fork_swapped_child_populate_read", test_fork_swapped_child_populate_read,
	  ON_PRIVATE, setup_swapped },
	{ "fork_swapped_child_populate_write",
	  test_fork_swapped_child_populate_write, ON_PRIVATE, setup_swapped },
	{ "fork_swapped_parent_keeps_swap", test_fork_swapped_parent_keeps_swap,
	  ON_PRIVATE, setup_swapped },
	{ "willneed_swapped_reads_into_swap_cache",
	  test_willneed_swapped_reads_into_swap_cache, ON_ALL, NULL },
};

static void print_environment(void)
{
	char buf[32];

	if (!read_first_line("/proc/sys/vm/page-cluster", buf, sizeof(buf)))
		ksft_print_msg("vm.page-cluster %s%s\n", buf,
			       strcmp(buf, "0") ?
			       " (swap readahead: the partial populates may read more)" :
			       "");
	memcg_print_eviction();
}

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.by_test = true,
	.pagemap = true,
	.setup = memcg_probe_swap,
	.environment = print_environment,
	.cleanup = memcg_cleanup,
};

int main(void)
{
	ps = sys_pagesize();
	suite_main(&suite);
}
