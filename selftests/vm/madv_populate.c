// SPDX-License-Identifier: GPL-2.0
/*
 * MADV_POPULATE_READ and MADV_POPULATE_WRITE: which errors they report and
 * what /proc/self/pagemap and mincore() say about the range afterwards.
 *
 * Mostly private anonymous memory, where a read populate maps the shared
 * zero page and a write populate allocates exclusive anonymous pages, plus
 * two shmem cases (memfd): populating past i_size fails with EFAULT, and a
 * write populate of a MAP_PRIVATE memfd mapping replaces the file pages by
 * private anonymous copies without touching the file.
 *
 * Then shared memory, MAP_SHARED|MAP_ANONYMOUS and a MAP_SHARED memfd: both
 * populates fault every page in, a read populate of a memfd hole allocates
 * a zero-filled page-cache page (SEEK_DATA finds it), a write populate
 * marks the pages soft-dirty, and PROT_NONE fails with EINVAL.  A shmem
 * page counts as populated when its pagemap entry is PRESENT: the SWAP bit is
 * never set for swapped-out shmem, whose page table entry is cleared.
 *
 * Last, pages paged out to swap (private anonymous, and a MAP_SHARED memfd)
 * are swapped back in by either populate: PRESENT again, smaps Swap: back
 * to its value before the page-out, data intact.  The page-out is verified
 * through smaps Swap:, with the process pinned to one CPU; without swap
 * these subtests skip.
 *
 * Transparent huge pages are disabled for every test range so that each
 * page is mapped by its own page table entry.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

/* pages in each test range */
#define NR_PAGES	16
#define MAX_PAGE_DIAGS	4
#define NAME_LEN	128

/* The memory the subtests run on; nothing is probed, all of it must work */
enum {
	BACKEND_SHARED_ANON,
	BACKEND_MEMFD,
	BACKEND_PRIVATE_ANON,
	NR_BACKENDS,
};

/* the shared memory of the shmem populate subtests, in this order */
#define NR_SHMEM_BACKENDS	(BACKEND_MEMFD + 1)

static const struct backend backends[NR_BACKENDS] = {
	[BACKEND_SHARED_ANON] = { .name = "shared_anon",
				  .kind = MEM_SHARED_ANON },
	[BACKEND_MEMFD] = { .name = "memfd", .kind = MEM_MEMFD },
	[BACKEND_PRIVATE_ANON] = { .name = "private_anon",
				   .kind = MEM_PRIVATE_ANON },
};

static size_t ps;
static size_t range_len;

static void report(const char *name, bool ok)
{
	ksft_test_result_code(ok ? KSFT_PASS : KSFT_FAIL, name, NULL);
}

/* report() under a name built from @fmt */
static __printf(2, 3) void report_named(bool ok, const char *fmt, ...)
{
	char name[NAME_LEN];
	va_list args;

	va_start(args, fmt);
	vsnprintf(name, sizeof(name), fmt, args);
	va_end(args);
	report(name, ok);
}

static const char *advice_word(int advice)
{
	return advice == MADV_POPULATE_READ ? "read" : "write";
}

/*
 * range_len bytes of @backend mapped with @prot and @flags (0: the
 * backend's own), THP off; a memfd is @file_size bytes long.  Returns
 * false after printing why not.
 */
static bool map_range(struct region *r, int backend, int prot, int flags,
		      off_t file_size)
{
	const struct backend *b = &backends[backend];
	int ret;

	ret = region_open(r, b);
	/*
	 * A PROT_NONE or PROT_READ VMA takes MADV_NOHUGEPAGE as well; it is
	 * not checked, THP only matters for the pagemap checks.
	 */
	if (!ret)
		ret = region_map(r, NR_PAGES, prot, flags);
	if (!ret && r->fd >= 0 && file_size != (off_t)range_len)
		ret = region_resize(r, file_size / ps);
	if (ret)
		ksft_print_msg("%s of %zu bytes of %s memory failed: %s\n",
			       r->failed, range_len, b->name, errno_name(ret));
	return !ret;
}

/* Private anonymous memory; exits when it cannot be mapped */
static char *map_anon(int prot)
{
	struct region r;

	if (!map_range(&r, BACKEND_PRIVATE_ANON, prot, 0, 0))
		ksft_exit_fail_msg("cannot map private anonymous memory\n");
	return r.addr;
}

/*
 * Every page of [@addr, @addr + @len) must have all pagemap bits of
 * @must_set set and none of @must_clear.  Mismatches are printed.
 */
static bool range_pagemap_is(char *addr, size_t len, uint64_t must_set,
			     uint64_t must_clear)
{
	return pagemap_pages_are(NULL, addr, 0, len / ps, must_set, must_clear,
				 MAX_PAGE_DIAGS);
}

static bool range_not_populated(char *addr, size_t len)
{
	return range_pagemap_is(addr, len, 0,
				PME_PRESENT | PME_SWAP);
}

static bool range_present(char *addr, size_t len)
{
	return range_pagemap_is(addr, len, PME_PRESENT, 0);
}

static bool range_resident(char *addr, size_t len)
{
	unsigned char vec[NR_PAGES];
	size_t i;
	int ret;

	ret = mincore_range(addr, len, vec);
	if (ret) {
		ksft_print_msg("mincore: %s\n", errno_name(ret));
		return false;
	}
	for (i = 0; i < len / ps; i++) {
		if (!(vec[i] & 1)) {
			ksft_print_msg("mincore: page %zu not resident\n", i);
			return false;
		}
	}
	return true;
}

/* Page frame number of @addr, 0 when unknown (not root, or not present) */
static uint64_t page_pfn(char *addr)
{
	uint64_t entry;

	if (pagemap_read(pagemap_fd, addr, &entry) ||
	    !pagemap_entry_has(entry, PME_PRESENT))
		return 0;
	return entry & PME_PFN_MASK;
}

/*
 * After a read populate of private anonymous memory every page maps the
 * shared zero page: one PFN for the whole range, neither exclusive nor
 * file-backed.  Without CAP_SYS_ADMIN the PFNs read as 0 and only the
 * flags are compared.
 */
static bool range_maps_zero_page(char *addr, size_t len)
{
	uint64_t first = page_pfn(addr);
	bool ok;
	size_t off;

	ok = range_pagemap_is(addr, len, PME_PRESENT,
			      PME_MMAP_EXCLUSIVE | PME_FILE);
	for (off = ps; first && off < len; off += ps) {
		if (page_pfn(addr + off) != first) {
			ksft_print_msg("page %zu: pfn 0x%llx, page 0: pfn 0x%llx\n",
				       off / ps,
				       (unsigned long long)page_pfn(addr + off),
				       (unsigned long long)first);
			return false;
		}
	}
	return ok;
}

/* Exclusive anonymous pages, each with a PFN of its own */
static bool range_maps_private_pages(char *addr, size_t len)
{
	uint64_t pfns[NR_PAGES];
	size_t i, j;
	bool ok;

	ok = range_pagemap_is(addr, len,
			      PME_PRESENT | PME_MMAP_EXCLUSIVE,
			      PME_FILE | PME_SWAP);
	for (i = 0; i < len / ps; i++) {
		pfns[i] = page_pfn(addr + i * ps);
		for (j = 0; pfns[i] && j < i; j++) {
			if (pfns[j] == pfns[i]) {
				ksft_print_msg("pages %zu and %zu share pfn 0x%llx\n",
					       j, i,
					       (unsigned long long)pfns[i]);
				return false;
			}
		}
	}
	return ok;
}

static void test_protections(void)
{
	static const struct {
		const char *name;
		int prot;
		int advice;
		int want_err;
	} cases[] = {
		{ "prot_read_populate_read_ok", PROT_READ, MADV_POPULATE_READ, 0 },
		{ "prot_read_populate_write_einval", PROT_READ, MADV_POPULATE_WRITE, EINVAL },
		{ "prot_write_populate_read_einval", PROT_WRITE, MADV_POPULATE_READ, EINVAL },
		{ "prot_write_populate_write_ok", PROT_WRITE, MADV_POPULATE_WRITE, 0 },
		{ "prot_none_populate_read_einval", PROT_NONE, MADV_POPULATE_READ, EINVAL },
		{ "prot_none_populate_write_einval", PROT_NONE, MADV_POPULATE_WRITE, EINVAL },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *addr = map_anon(cases[i].prot);

		report(cases[i].name,
		       madvise_result_is(addr, range_len, cases[i].advice,
					 cases[i].want_err));
		munmap(addr, range_len);
	}
}

/* With the second page unmapped, any range that covers it fails */
static void test_holes(void)
{
	static const struct {
		const char *name;
		size_t first_page;
		size_t nr_pages;	/* 0: up to the end of the range */
		int advice;
	} cases[] = {
		{ "hole_in_middle_populate_read_enomem", 0, 0, MADV_POPULATE_READ },
		{ "hole_in_middle_populate_write_enomem", 0, 0, MADV_POPULATE_WRITE },
		{ "hole_at_end_populate_read_enomem", 0, 2, MADV_POPULATE_READ },
		{ "hole_at_end_populate_write_enomem", 0, 2, MADV_POPULATE_WRITE },
		{ "hole_only_populate_read_enomem", 1, 1, MADV_POPULATE_READ },
		{ "hole_only_populate_write_enomem", 1, 1, MADV_POPULATE_WRITE },
	};
	char *addr = map_anon(PROT_READ | PROT_WRITE);
	size_t i;

	if (munmap(addr + ps, ps))
		ksft_exit_fail_msg("munmap of the second page failed: %s\n",
				   errno_name(errno));

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len = range_len - cases[i].first_page * ps;

		if (cases[i].nr_pages)
			len = cases[i].nr_pages * ps;

		report(cases[i].name,
		       madvise_result_is(addr + cases[i].first_page * ps, len,
					 cases[i].advice, ENOMEM));
	}
	munmap(addr, ps);
	munmap(addr + 2 * ps, range_len - 2 * ps);
}

/*
 * A populate of fresh private anonymous memory: a read populate maps the
 * zero page, over which a write populate then gives every page a copy of
 * its own; a write populate maps private pages right away.
 */
static void test_populate(int advice)
{
	bool read = advice == MADV_POPULATE_READ;
	const char *adv = advice_word(advice);
	char *addr = map_anon(PROT_READ | PROT_WRITE);

	report_named(range_not_populated(addr, range_len),
		     "populate_%s_range_unpopulated_before", adv);
	report_named(madvise_result_is(addr, range_len, advice, 0),
		     "populate_%s_returns_0", adv);
	report_named(range_present(addr, range_len),
		     "populate_%s_range_present", adv);
	if (read)
		report("populate_read_maps_zero_page",
		       range_maps_zero_page(addr, range_len));
	else
		report("populate_write_maps_private_pages",
		       range_maps_private_pages(addr, range_len));
	report_named(range_resident(addr, range_len),
		     "populate_%s_mincore_resident", adv);
	if (read) {
		report("populate_write_after_read_returns_0",
		       madvise_result_is(addr, range_len, MADV_POPULATE_WRITE,
					 0));
		report("populate_write_after_read_maps_private_pages",
		       range_maps_private_pages(addr, range_len));
	}
	munmap(addr, range_len);
}

static void test_softdirty(void)
{
	static const char * const names[] = {
		"softdirty_clear_refs_cleans_range",
		"softdirty_populate_read_returns_0",
		"softdirty_populate_read_leaves_range_clean",
		"softdirty_populate_write_returns_0",
		"softdirty_populate_write_dirties_range",
	};
	uint64_t sd = PME_SOFT_DIRTY;
	char *addr;
	size_t i;
	int ret;

	if (!softdirty_available()) {
		for (i = 0; i < ARRAY_SIZE(names); i++)
			ksft_test_result_code(KSFT_SKIP, names[i],
					      "soft-dirty tracking not supported");
		return;
	}

	addr = map_anon(PROT_READ | PROT_WRITE);
	ret = softdirty_clear();
	if (ret) {
		for (i = 0; i < ARRAY_SIZE(names); i++)
			ksft_test_result_code(KSFT_SKIP, names[i],
					      "writing /proc/self/clear_refs failed: %s",
					      errno_name(ret));
		munmap(addr, range_len);
		return;
	}

	report(names[0], range_pagemap_is(addr, range_len, 0, sd));
	report(names[1],
	       madvise_result_is(addr, range_len, MADV_POPULATE_READ, 0));
	report(names[2], range_pagemap_is(addr, range_len, PME_PRESENT, sd));
	report(names[3],
	       madvise_result_is(addr, range_len, MADV_POPULATE_WRITE, 0));
	report(names[4], range_pagemap_is(addr, range_len, PME_PRESENT | sd, 0));
	munmap(addr, range_len);
}

/* Pages past i_size of a shared memfd mapping cannot be faulted in */
static void test_shmem_beyond_eof(void)
{
	static const char * const names[] = {
		"shmem_beyond_eof_populate_read_efault",
		"shmem_beyond_eof_populate_write_efault",
	};
	struct region r;

	/* i_size covers the first half of the mapping only */
	if (!map_range(&r, BACKEND_MEMFD, PROT_READ | PROT_WRITE, 0,
		       range_len / 2)) {
		report(names[0], false);
		report(names[1], false);
		return;
	}
	report(names[0], madvise_result_is(r.addr, range_len,
					   MADV_POPULATE_READ, EFAULT));
	report(names[1], madvise_result_is(r.addr, range_len,
					   MADV_POPULATE_WRITE, EFAULT));
	region_close(&r);
}

/*
 * A write populate of a private file mapping replaces the file pages by
 * private anonymous copies: later writes through the mapping stay out of
 * the file.
 */
static void test_private_memfd_populate_write(void)
{
	static const char * const names[] = {
		"private_memfd_populate_write_returns_0",
		"private_memfd_populate_write_maps_anon_copies",
		"private_memfd_populate_write_keeps_file_content",
	};
	bool unchanged = true;
	struct region r;
	char *addr, *buf;
	size_t i;
	int fd;

	addr = map_range(&r, BACKEND_MEMFD, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE, range_len) ? r.addr : NULL;
	fd = r.fd;
	buf = malloc(range_len);
	if (!addr || !buf) {
		for (i = 0; i < ARRAY_SIZE(names); i++)
			report(names[i], false);
		goto out;
	}
	memset(buf, 0x11, range_len);
	if (pwrite(fd, buf, range_len, 0) != (ssize_t)range_len) {
		ksft_print_msg("pwrite to the memfd failed\n");
		for (i = 0; i < ARRAY_SIZE(names); i++)
			report(names[i], false);
		goto out;
	}

	report(names[0], madvise_result_is(addr, range_len,
					   MADV_POPULATE_WRITE, 0));
	report(names[1], range_maps_private_pages(addr, range_len));

	memset(addr, 0x22, range_len);
	if (pread(fd, buf, range_len, 0) != (ssize_t)range_len) {
		ksft_print_msg("pread from the memfd failed\n");
		unchanged = false;
	}
	for (i = 0; unchanged && i < range_len; i++) {
		if (buf[i] != 0x11) {
			ksft_print_msg("memfd byte 0x%zx is 0x%02x, expected 0x11\n",
				       i, (unsigned char)buf[i]);
			unchanged = false;
		}
	}
	report(names[2], unchanged);
out:
	free(buf);
	if (addr)
		region_close(&r);
}

/* No page of the range mapped: pagemap none, soft-dirty bit aside */
static bool range_pagemap_none(char *addr, size_t len)
{
	return range_pagemap_is(addr, len, 0, ~PME_SOFT_DIRTY);
}

/*
 * MADV_POPULATE_READ or MADV_POPULATE_WRITE of fresh shared memory: the
 * range starts unpopulated and ends up PRESENT and resident; on a memfd
 * the holes become page-cache pages that SEEK_DATA reports as data.
 */
static void test_shmem_populate(int backend, int advice)
{
	static const char * const checks[] = {
		"range_unpopulated_before", "returns_0", "range_present",
		"mincore_resident", "allocates_page_cache",
	};
	const char *prefix = backends[backend].name;
	const char *adv = advice_word(advice);
	size_t nr = backend == BACKEND_MEMFD ? ARRAY_SIZE(checks) :
		    ARRAY_SIZE(checks) - 1;
	bool hole_before = true;
	struct region r;
	char *addr;
	size_t i;
	int fd;

	if (!map_range(&r, backend, PROT_READ | PROT_WRITE, 0, range_len)) {
		for (i = 0; i < nr; i++)
			report_named(false, "%s_populate_%s_%s", prefix, adv,
				     checks[i]);
		return;
	}
	addr = r.addr;
	fd = r.fd;

	report_named(range_pagemap_none(addr, range_len),
		     "%s_populate_%s_%s", prefix, adv, checks[0]);
	/* a hole before: nothing in the page cache yet */
	if (fd >= 0)
		hole_before = seek_is(fd, 0, SEEK_DATA, -ENXIO, false);
	report_named(madvise_result_is(addr, range_len, advice, 0),
		     "%s_populate_%s_%s", prefix, adv, checks[1]);
	report_named(range_present(addr, range_len),
		     "%s_populate_%s_%s", prefix, adv, checks[2]);
	report_named(range_resident(addr, range_len),
		     "%s_populate_%s_%s", prefix, adv, checks[3]);
	if (fd >= 0) {
		bool ok = hole_before;

		/* every page is data now: data from 0, the hole at i_size */
		ok &= seek_is(fd, 0, SEEK_DATA, 0, false);
		ok &= seek_is(fd, 0, SEEK_HOLE, range_len, false);
		ok &= seek_is(fd, range_len - ps, SEEK_DATA, range_len - ps,
			      false);
		report_named(ok, "%s_populate_%s_%s", prefix, adv, checks[4]);
	}
	region_close(&r);
}

/* No populate on a PROT_NONE shared mapping: EINVAL */
static void test_shmem_prot_none(int backend)
{
	const char *prefix = backends[backend].name;
	struct region r;

	if (!map_range(&r, backend, PROT_NONE, 0, range_len)) {
		report_named(false, "%s_prot_none_populate_read_einval", prefix);
		report_named(false, "%s_prot_none_populate_write_einval", prefix);
		return;
	}
	report_named(madvise_result_is(r.addr, range_len, MADV_POPULATE_READ,
				       EINVAL),
		     "%s_prot_none_populate_read_einval", prefix);
	report_named(madvise_result_is(r.addr, range_len, MADV_POPULATE_WRITE,
				       EINVAL),
		     "%s_prot_none_populate_write_einval", prefix);
	region_close(&r);
}

/*
 * Soft-dirty on shared memory, each populate on a fresh mapping after
 * clear_refs: a read populate maps the pages clean, a write populate
 * dirties them.
 */
static void test_shmem_softdirty(int backend)
{
	static const struct {
		const char *name;
		int advice;
		bool dirty;
	} cases[] = {
		{ "softdirty_populate_read_leaves_range_clean",
		  MADV_POPULATE_READ, false },
		{ "softdirty_populate_write_dirties_range",
		  MADV_POPULATE_WRITE, true },
	};
	const char *prefix = backends[backend].name;
	uint64_t sd = PME_SOFT_DIRTY;
	uint64_t present = PME_PRESENT;
	char name[NAME_LEN];
	struct region r;
	bool ok;
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(name, sizeof(name), "%s_%s", prefix, cases[i].name);
		if (!softdirty_available()) {
			ksft_test_result_code(KSFT_SKIP, name,
					      "soft-dirty tracking not supported");
			continue;
		}
		if (!map_range(&r, backend, PROT_READ | PROT_WRITE, 0,
			       range_len)) {
			report(name, false);
			continue;
		}
		ret = softdirty_clear();
		if (ret) {
			ksft_test_result_code(KSFT_SKIP, name,
					      "writing /proc/self/clear_refs failed: %s",
					      errno_name(ret));
			region_close(&r);
			continue;
		}
		/* clean and unpopulated before */
		ok = range_pagemap_is(r.addr, range_len, 0, ~0ULL);
		ok &= madvise_result_is(r.addr, range_len, cases[i].advice, 0);
		if (cases[i].dirty)
			ok &= range_pagemap_is(r.addr, range_len, present | sd, 0);
		else
			ok &= range_pagemap_is(r.addr, range_len, present, sd);
		report(name, ok);
		region_close(&r);
	}
}

/* Every page still holds what fill_pages() wrote */
static bool range_data_intact(char *addr)
{
	unsigned int diags = 0;
	bool ok = true;
	size_t i;

	for (i = 0; i < NR_PAGES; i++) {
		if (page_filled_with(addr + i * ps, i, page_byte(i),
				     diags >= MAX_PAGE_DIAGS))
			continue;
		ok = false;
		diags++;
	}
	return ok;
}

/* The checks of each swapped-out populate, in reporting order */
enum {
	SWAPPED_RETURNS_0,
	SWAPPED_RANGE_PRESENT,
	SWAPPED_SMAPS_SWAP_ZERO,
	SWAPPED_DATA_INTACT,
	NR_SWAPPED_CHECKS,
};

static const char * const swapped_check_names[NR_SWAPPED_CHECKS + 1] = {
	[SWAPPED_RETURNS_0] = "returns_0",
	[SWAPPED_RANGE_PRESENT] = "range_present",
	[SWAPPED_SMAPS_SWAP_ZERO] = "smaps_swap_zero",
	[SWAPPED_DATA_INTACT] = "data_intact",
};

/*
 * Write a pattern to range_len bytes of @backend, private anonymous memory
 * or a MAP_SHARED memfd, page it all out, verified, and populate it again
 * with @advice.  Fills @codes; returns KSFT_PASS, or the code every check
 * gets when the setup skipped or failed.
 */
static int swapped_populate(int backend, int advice,
			    int codes[NR_SWAPPED_CHECKS])
{
	bool shmem = backend != BACKEND_PRIVATE_ANON;
	unsigned long before_kb, swap_kb = 0, after_kb;
	struct region r;
	char desc[128];
	uint64_t entry;
	char *addr;
	int code;
	int ret;

	if (!map_range(&r, backend, PROT_READ | PROT_WRITE, 0, range_len))
		return KSFT_FAIL;
	addr = r.addr;
	fill_pages(addr, NR_PAGES);

	ret = smaps_vma_field_kb(addr, "Swap", &before_kb, NULL);
	if (ret) {
		code = ret == -ENOENT ? skip("no Swap: field in smaps") :
		       setup_failed("reading smaps Swap:", -ret);
		goto out;
	}
	code = setup_pageout(addr, range_len);
	if (code != KSFT_PASS)
		goto out;
	smaps_vma_field_kb(addr, "Swap", &swap_kb, NULL);
	if (!pagemap_read(pagemap_fd, addr, &entry))
		ksft_print_msg(
			"paged out: smaps Swap: %lu kB (before %lu kB), page 0: pagemap %s\n",
			swap_kb, before_kb,
			pagemap_describe(entry, desc, sizeof(desc)));

	codes[SWAPPED_RETURNS_0] =
		madvise_result_is(addr, range_len, advice, 0) ?
		KSFT_PASS : KSFT_FAIL;
	/* shmem: PRESENT only; anon: the swap entries must be gone too */
	codes[SWAPPED_RANGE_PRESENT] =
		range_pagemap_is(addr, range_len, PME_PRESENT,
				 shmem ? 0 : PME_SWAP) ?
		KSFT_PASS : KSFT_FAIL;
	ret = smaps_vma_field_kb(addr, "Swap", &after_kb, NULL);
	if (ret) {
		ksft_print_msg("reading smaps Swap: after the populate: %s\n",
			       errno_name(ret));
		codes[SWAPPED_SMAPS_SWAP_ZERO] = KSFT_FAIL;
	} else if (after_kb != before_kb) {
		ksft_print_msg(
			"smaps Swap: %lu kB after the populate, %lu kB before the page-out\n",
			after_kb, before_kb);
		codes[SWAPPED_SMAPS_SWAP_ZERO] = KSFT_FAIL;
	} else {
		codes[SWAPPED_SMAPS_SWAP_ZERO] = KSFT_PASS;
	}
	codes[SWAPPED_DATA_INTACT] = range_data_intact(addr) ?
				     KSFT_PASS : KSFT_FAIL;
out:
	region_close(&r);
	return code;
}

static void test_swapped_populate(int backend, int advice)
{
	int codes[NR_SWAPPED_CHECKS];
	char prefix[NAME_LEN];
	int code;

	skip_reason[0] = '\0';
	if (swap_present())
		code = swapped_populate(backend, advice, codes);
	else
		code = skip("no swap configured");
	snprintf(prefix, sizeof(prefix), "%s_swapped_populate_%s",
		 backends[backend].name, advice_word(advice));
	report_checks(prefix, swapped_check_names, codes, code);
}

/* Exit with a SKIP when the kernel predates MADV_POPULATE_(READ|WRITE) */
static void sense_support(void)
{
	char *addr = mmap(NULL, ps, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (addr == MAP_FAILED)
		ksft_exit_fail_msg("mmap failed: %s\n", errno_name(errno));
	if (madvise(addr, ps, MADV_POPULATE_READ))
		ksft_exit_skip("MADV_POPULATE_READ not available: %s\n",
			       errno_name(errno));
	if (madvise(addr, ps, MADV_POPULATE_WRITE))
		ksft_exit_skip("MADV_POPULATE_WRITE not available: %s\n",
			       errno_name(errno));
	munmap(addr, ps);
}

static void print_environment(void)
{
	if (geteuid())
		ksft_print_msg("not root: pagemap PFNs read as 0, PFN checks are skipped\n");
}

int main(void)
{
	int b;

	ps = sys_pagesize();
	range_len = NR_PAGES * ps;

	/*
	 * Private anonymous and memfd tests, then shared memory: populate
	 * (4 checks, 5 on a memfd, for each populate), PROT_NONE (2) and
	 * soft-dirty (2) per kind, and 4 checks per swapped-out populate.
	 */
	suite_start(6 + 6 + 7 + 5 + 5 + 2 + 3 +
		    (4 + 5) * 2 + 2 * 2 + 2 * 2 + 4 * 4, sense_support, true);
	env_banner(NULL, 0, print_environment);

	test_protections();
	test_holes();
	test_populate(MADV_POPULATE_READ);
	test_populate(MADV_POPULATE_WRITE);
	test_softdirty();
	test_shmem_beyond_eof();
	test_private_memfd_populate_write();

	for (b = 0; b < NR_SHMEM_BACKENDS; b++) {
		test_shmem_populate(b, MADV_POPULATE_READ);
		test_shmem_populate(b, MADV_POPULATE_WRITE);
	}
	for (b = 0; b < NR_SHMEM_BACKENDS; b++)
		test_shmem_prot_none(b);
	for (b = 0; b < NR_SHMEM_BACKENDS; b++)
		test_shmem_softdirty(b);
	test_swapped_populate(BACKEND_PRIVATE_ANON, MADV_POPULATE_READ);
	test_swapped_populate(BACKEND_PRIVATE_ANON, MADV_POPULATE_WRITE);
	test_swapped_populate(BACKEND_MEMFD, MADV_POPULATE_READ);
	test_swapped_populate(BACKEND_MEMFD, MADV_POPULATE_WRITE);
	suite_end();
}
