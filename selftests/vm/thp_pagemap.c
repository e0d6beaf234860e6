// SPDX-License-Identifier: GPL-2.0
/*
 * What pagemap and mincore() say of every base page of a huge page:
 * PMD-mapped shmem huge pages (a file on a private tmpfs mounted with
 * huge=always), PMD-mapped anonymous huge pages, and each size of
 * anonymous multi-size THP (mTHP, 6.8+) the kernel offers in
 * /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB.
 *
 * pagemap.rst gives one entry per base page whatever maps it: a huge page
 * written by this process alone shows PRESENT and "page exclusively
 * mapped" (bit 56; for a large allocation "certainly mapped in the same
 * process") on every page, and "file-page or shared-anon" (bit 61) for
 * shmem ("fs/proc/task_mmu: indicate PM_FILE for PMD-mapped file THP",
 * Debian 6.1.106).  Paged out, an anonymous huge page leaves a swap entry
 * in every page table entry (PM_SWAP on each page), a shmem one leaves
 * them all clear ("Exceptions for Shared Memory").  Read back, every page
 * is present again with its data.  mincore(2) reports each base page of a
 * mapped huge page resident.
 *
 * A huge page is best effort: when none is mapped the subtests skip, but
 * only when the kernel counted a fallback (thp_fault_fallback,
 * thp_file_fallback, the mTHP size's anon_fault_fallback); else they fail.
 * The program sets the THP knobs it needs (the anonymous THP "enabled"
 * knobs: madvise for the size under test, never for the other sizes) and
 * puts them back at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

/* huge pages in each test range */
#define NR_HUGE		2
#define MAX_DIAGS	4

enum {
	BACKEND_SHMEM_THP,
	BACKEND_ANON_THP,
	BACKEND_MTHP_16K,
	BACKEND_MTHP_32K,
	BACKEND_MTHP_64K,
	BACKEND_MTHP_128K,
	BACKEND_MTHP_256K,
	BACKEND_MTHP_512K,
	BACKEND_MTHP_1024K,
	NR_BACKENDS,
};

#define ON_ALL		((1U << NR_BACKENDS) - 1)
#define FIRST_MTHP	BACKEND_MTHP_16K
/* the mTHP sizes in kB, BACKEND_MTHP_16K on */
#define MTHP_KB(b)	(16UL << ((b) - FIRST_MTHP))

static struct backend backends[NR_BACKENDS] = {
	[BACKEND_SHMEM_THP] = { .name = "shmem_thp", .kind = MEM_TMPFS },
	[BACKEND_ANON_THP] = { .name = "anon_thp", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_16K] = { .name = "anon_mthp_16kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_32K] = { .name = "anon_mthp_32kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_64K] = { .name = "anon_mthp_64kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_128K] = { .name = "anon_mthp_128kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_256K] = { .name = "anon_mthp_256kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_512K] = { .name = "anon_mthp_512kB", .kind = MEM_PRIVATE_ANON },
	[BACKEND_MTHP_1024K] = { .name = "anon_mthp_1024kB",
				 .kind = MEM_PRIVATE_ANON },
};

static size_t ps, pmd_size;

/* the anonymous THP knobs: "enabled", then one per mTHP size directory */
#define MAX_KNOBS	16
static struct knob knobs[MAX_KNOBS];
static char size_dirs[MAX_KNOBS][64];	/* "hugepages-16kB", ... */
static size_t nr_size_dirs;

static size_t backend_index(const struct backend *b)
{
	return b - backends;
}

static bool is_mthp(const struct backend *b)
{
	return backend_index(b) >= FIRST_MTHP;
}

/*
 * Anonymous huge pages of the backend's size only: the size under test
 * (and, for PMD-sized ones, the global knob) set to madvise, every other
 * size to never, so that the fault cannot pick another one.
 */
static int set_anon_knobs(const struct backend *b)
{
	char path[PATH_MAX], want[64];
	size_t i;
	int ret;

	ret = knob_set(&knobs[0], THP_SYSFS "enabled", "madvise");
	snprintf(want, sizeof(want), "hugepages-%zukB", b->huge_size / 1024);
	for (i = 0; !ret && i < nr_size_dirs; i++) {
		snprintf(path, sizeof(path), THP_SYSFS "%s/enabled",
			 size_dirs[i]);
		ret = knob_set(&knobs[i + 1], path,
			       strcmp(size_dirs[i], want) ? "never" : "madvise");
	}
	return ret ? setup_failed("setting the THP enabled knobs", -ret) :
		     KSFT_PASS;
}

/* The counter that says the kernel declined a huge page of @b, and its path */
static const char *fallback_counter(const struct backend *b, char *path,
				    size_t len)
{
	if (b->kind == MEM_TMPFS)
		return "thp_file_fallback";
	if (!is_mthp(b))
		return "thp_fault_fallback";
	snprintf(path, len, THP_SYSFS "hugepages-%zukB/stats/anon_fault_fallback",
		 b->huge_size / 1024);
	return "anon_fault_fallback";
}

static long fallback_read(const struct backend *b)
{
	char path[PATH_MAX];
	const char *name = fallback_counter(b, path, sizeof(path));

	return is_mthp(b) ? counter_read(path) : vmstat_read(name);
}

/* mTHP allocations of the backend's size so far; -1 without mTHP stats */
static long mthp_allocs(const struct backend *b)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path),
		 THP_SYSFS "hugepages-%zukB/stats/anon_fault_alloc",
		 b->huge_size / 1024);
	return counter_read(path);
}

/*
 * Did the range get huge pages?  PMD-mapped ones are counted by smaps
 * (AnonHugePages:, ShmemPmdMapped:); mTHP ones by the size's
 * anon_fault_alloc, which must have grown by one per folio since @allocs.
 */
static bool got_huge(const struct region *r, long allocs)
{
	const struct backend *b = r->backend;
	unsigned long kb;
	long now;

	if (is_mthp(b)) {
		now = mthp_allocs(b);
		ksft_print_msg("%s anon_fault_alloc grew by %ld for %zu folios\n",
			       b->name, now - allocs, r->len / b->huge_size);
		return allocs >= 0 && now - allocs >= (long)(r->len / b->huge_size);
	}
	kb = region_smaps_kb(r, b->kind == MEM_TMPFS ? "ShmemPmdMapped" :
			     "AnonHugePages");
	ksft_print_msg("%s: %lu of %zu kB PMD-mapped\n", b->name, kb,
		       r->len / 1024);
	return kb == r->len / 1024;
}

/*
 * NR_HUGE huge pages of the backend, written page by page and confirmed to
 * be huge.  A KSFT code: a SKIP only when the kernel declined.
 */
static int setup_written(struct region *r)
{
	const struct backend *b = r->backend;
	char path[PATH_MAX];
	const char *counter = fallback_counter(b, path, sizeof(path));
	long fallback, allocs;
	int ret;

	if (b->kind == MEM_PRIVATE_ANON) {
		ret = set_anon_knobs(b);
		if (ret)
			return ret;
	}
	fallback = fallback_read(b);
	allocs = is_mthp(b) ? mthp_allocs(b) : 0;
	ret = region_setup(r, NR_HUGE * b->huge_size / ps);
	if (ret)
		return ret;
	fill_pages(r->addr, r->npages);
	if (got_huge(r, allocs))
		return KSFT_PASS;
	return huge_page_declined(is_mthp(b) ? path : NULL, counter, fallback);
}

/* ... and paged out, confirmed by the swap writes */
static int setup_swapped(struct region *r)
{
	return region_written_paged_out(r, setup_written, 0, 0);
}

/* mincore() reports every base page of the range resident */
static bool all_resident(const char *when, const struct region *r)
{
	unsigned char *vec = malloc(r->npages);
	size_t i, missing = 0;
	int ret;

	if (!vec)
		return false;
	ret = mincore_range(r->addr, r->len, vec);
	for (i = 0; !ret && i < r->npages; i++)
		missing += !(vec[i] & 1);
	free(vec);
	if (ret || missing)
		ksft_print_msg("%s: mincore %s, %zu of %zu pages not resident\n",
			       when, ret ? errno_name(ret) : "ok", missing,
			       r->npages);
	return !ret && !missing;
}

/* Every base page present, exclusively ours, FILE exactly for shmem */
static bool all_present(const char *when, const struct region *r)
{
	uint64_t set = PME_PRESENT | PME_MMAP_EXCLUSIVE;
	uint64_t clear = PME_SWAP;

	if (r->kind == MEM_TMPFS)
		set |= PME_FILE;
	else
		clear |= PME_FILE;
	return pagemap_pages_are(when, r->addr, 0, r->npages, set, clear,
				 MAX_DIAGS);
}

static int test_written_every_page_present(struct region *r)
{
	bool ok = true;

	ok &= all_present("written", r);
	ok &= all_resident("written", r);
	return pass_if(ok);
}

/* Anonymous: a swap entry in every pte; shmem: every pte clear */
static int test_pageout_every_pte_swapped(struct region *r)
{
	if (r->kind == MEM_PRIVATE_ANON)
		return pass_if(pagemap_pages_are("paged out", r->addr, 0,
						 r->npages, PME_SWAP,
						 PME_PRESENT, MAX_DIAGS));
	return pass_if(pagemap_pages_are("paged out", r->addr, 0, r->npages, 0,
					 PME_NONE_MASK, MAX_DIAGS));
}

/* Read back through page faults: every page present, data intact */
static int test_swapin_data_intact(struct region *r)
{
	unsigned int bad = 0;
	bool ok = true;
	size_t i;

	for (i = 0; i < r->npages; i++)
		if (!page_filled_with(region_page(r, i), i, page_byte(i),
				      bad >= MAX_DIAGS))
			bad++;
	if (bad)
		ksft_print_msg("%u of %zu pages differ after the swap-in\n", bad,
			       r->npages);
	ok &= !bad;
	ok &= pagemap_pages_are("swapped in", r->addr, 0, r->npages,
				PME_PRESENT, PME_SWAP, MAX_DIAGS);
	ok &= all_resident("swapped in", r);
	return pass_if(ok);
}

static const struct subtest subtests[] = {
	{ "written_every_page_present", test_written_every_page_present,
	  ON_ALL, setup_written },
	{ "pageout_every_pte_swapped", test_pageout_every_pte_swapped, ON_ALL,
	  setup_swapped },
	{ "swapin_data_intact", test_swapin_data_intact, ON_ALL, setup_swapped },
};

/* Find the mTHP size directories, and which sizes can be tested */
static void probe_anon(void)
{
	char path[96];
	size_t b, kb;

	for (kb = 4; kb <= 1UL << 30 && nr_size_dirs < MAX_KNOBS - 1; kb <<= 1) {
		/* some sizes (PUD) are for files only: no anonymous knob */
		snprintf(path, sizeof(path), THP_SYSFS "hugepages-%zukB/enabled",
			 kb);
		if (!access(path, F_OK))
			snprintf(size_dirs[nr_size_dirs++], sizeof(size_dirs[0]),
				 "hugepages-%zukB", kb);
	}
	backends[BACKEND_ANON_THP].huge_size = pmd_size;
	if (access(THP_SYSFS "enabled", W_OK))
		snprintf(backends[BACKEND_ANON_THP].skip, sizeof(backends[0].skip),
			 "no writable %senabled (no THP, or not root)", THP_SYSFS);
	for (b = FIRST_MTHP; b < NR_BACKENDS; b++) {
		backends[b].huge_size = MTHP_KB(b) * 1024;
		snprintf(path, sizeof(path), THP_SYSFS "hugepages-%lukB/enabled",
			 MTHP_KB(b));
		if (access(path, W_OK))
			snprintf(backends[b].skip, sizeof(backends[b].skip),
				 "no mTHP of %lu kB in this kernel (no writable hugepages-%lukB/enabled)",
				 MTHP_KB(b), MTHP_KB(b));
		else if (backends[b].huge_size >= pmd_size)
			snprintf(backends[b].skip, sizeof(backends[b].skip),
				 "%lu kB is not smaller than a PMD", MTHP_KB(b));
	}
}

static void probe(void)
{
	static const char * const huge_opts[] = {
		"size=64m,mode=0700,huge=always",
	};
	struct backend *shmem = &backends[BACKEND_SHMEM_THP];
	size_t b;

	pmd_size = thp_pmd_size();
	if (!pmd_size) {
		for (b = 0; b < NR_BACKENDS; b++)
			snprintf(backends[b].skip, sizeof(backends[b].skip),
				 "no THP in this kernel (no usable %shpage_pmd_size)",
				 THP_SYSFS);
		return;
	}
	if (!mount_private_tmpfs(shmem, huge_opts, ARRAY_SIZE(huge_opts)))
		shmem->huge_size = pmd_size;
	probe_anon();
}

static void restore_knobs(void)
{
	size_t i;

	for (i = 0; i < MAX_KNOBS; i++)
		knob_restore(&knobs[i]);
}

static void print_environment(void)
{
	ksft_print_msg("PMD size %zu kB; anonymous THP sizes with a knob: %zu\n", pmd_size / 1024,
		       nr_size_dirs);
}

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.pagemap = true,
	.setup = probe,
	.environment = print_environment,
	.cleanup = restore_knobs,
};

int main(void)
{
	ps = sys_pagesize();
	suite_main(&suite);
}
