// SPDX-License-Identifier: GPL-2.0
/*
 * Swap-out and swap-in of shmem huge pages: a file on a private tmpfs
 * mounted with huge=always, 4 PMD-sized folios long, mapped MAP_SHARED
 * with MADV_HUGEPAGE and filled with a per-page pattern.
 *
 * "mm: shmem: support large folio swap out" (6.12) lets shmem write a large
 * folio to swap whole, as one large swap entry; swap-in may then bring it
 * back as order-0 pages, splitting the large entry.  Data corruption and a
 * hang on that path were fixed by "mm: shmem: fix potential data corruption
 * during shmem swapin" (Baolin Wang, 6.14) and its follow-ups, backported
 * to 6.12 stable.  6.1 splits a shmem THP before swapping it out.  Either
 * way every byte must come back, through page faults and through read(2),
 * after a full or a partial swap-in.
 *
 * lseek() treats a page-cache folio as data as a whole, and a swap entry
 * with the order it was written with (mapping_seek_hole_data()), so one
 * byte written into a huge page makes the whole PMD-sized folio data, and
 * every page of a swapped-out huge page is data.
 *
 * /proc/meminfo counts shmem huge pages as ShmemHugePages ("Memory used by
 * shared memory (shmem) and tmpfs allocated with huge pages") and those
 * mapped by PMDs as ShmemPmdMapped (proc.rst): a huge page swapped out is
 * neither.  "mm: shmem: fix ShmemHugePages at swapout" (Debian 6.12.x,
 * 7.x) made the whole-folio swap-out of 6.12 take it off ShmemHugePages;
 * 6.1, splitting first, counts it off at the split.
 *
 * Needs root (for the mount in a private mount namespace), shmem THP and,
 * for the page-out subtests, swap; without them the subtests skip with the
 * reason.  Page-out is MADV_PAGEOUT confirmed by /proc/vmstat pswpout.
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

/* huge pages in the test file */
#define NR_HUGE			4
/* in the partial swap-in, every PARTIAL_STEP-th page is faulted in */
#define PARTIAL_STEP		3

enum {
	BACKEND_THP,
	NR_BACKENDS,
};

#define ON_THP	(1U << BACKEND_THP)

static struct backend backends[NR_BACKENDS] = {
	[BACKEND_THP] = { .name = "thp", .kind = MEM_TMPFS },
};

static size_t ps;
static size_t pmd_size;

/* How much of the mapping is mapped by PMDs, in kB */
static unsigned long pmd_mapped_kb(const struct region *r)
{
	/* shmem THPs count as ShmemPmdMapped, other file THPs as FilePmdMapped */
	return region_smaps_kb(r, "ShmemPmdMapped") +
	       region_smaps_kb(r, "FilePmdMapped");
}

/* THP swap-out counters, to tell whole huge pages from split ones */
struct thp_swpout {
	unsigned long whole;
	unsigned long fallback;
};

static void thp_swpout_read(struct thp_swpout *c)
{
	long whole = vmstat_read("thp_swpout");
	long fallback = vmstat_read("thp_swpout_fallback");

	c->whole = whole > 0 ? whole : 0;
	c->fallback = fallback > 0 ? fallback : 0;
}

static void print_smaps(const char *when, const struct region *r)
{
	ksft_print_msg(
		"%s: smaps Rss %lu kB, ShmemPmdMapped %lu kB, FilePmdMapped %lu kB, Swap %lu kB of %zu kB\n",
		when, region_smaps_kb(r, "Rss"), region_smaps_kb(r, "ShmemPmdMapped"),
		region_smaps_kb(r, "FilePmdMapped"), region_smaps_kb(r, "Swap"),
		r->len / 1024);
}

/* No huge page where one was asked for: did the kernel decline? */
static int no_huge_page(long before)
{
	return huge_page_declined(NULL, "thp_file_fallback", before);
}

/*
 * A fresh NR_HUGE huge page file, written with the page pattern through the
 * mapping and PMD-mapped.  Returns KSFT_PASS with the region set up, or the
 * code the subtest ends with.
 */
static int setup_written(struct region *r)
{
	long fallback = vmstat_read("thp_file_fallback");
	unsigned long kb;
	int ret;

	ret = region_setup(r, NR_HUGE * pmd_size / ps);
	if (ret)
		return ret;
	fill_pages(r->addr, r->npages);
	kb = pmd_mapped_kb(r);
	if (kb)
		return KSFT_PASS;
	print_smaps("after writing", r);
	return no_huge_page(fallback);
}

/*
 * Page out the whole mapping, confirmed by the swap writes it caused
 * (setup_pageout()); the mapping's smaps is printed when it fails.
 */
static int pageout_all(const struct region *r)
{
	int ret = setup_pageout(r->addr, r->len);

	if (ret == KSFT_FAIL)
		print_smaps("after MADV_PAGEOUT", r);
	return ret;
}

/* setup_written() and then page it all out */
static int setup_paged_out(struct region *r)
{
	int ret = region_written_paged_out(r, setup_written, 0, 0);

	if (ret == KSFT_FAIL)
		print_smaps("after MADV_PAGEOUT", r);
	return ret;
}

/*
 * Compare every page of @buf, holding pages @first.. of the file, with the
 * pattern: the first mismatching page and byte are printed, then how many
 * pages differ.
 */
static bool pages_intact(const char *how, const char *buf, size_t first,
			 size_t npages)
{
	size_t i, bad = 0, first_bad = 0;

	for (i = 0; i < npages; i++) {
		size_t idx = first + i;

		if (page_filled_with(buf + i * ps, idx, page_byte(idx), bad))
			continue;
		if (!bad++)
			first_bad = idx;
	}
	if (bad)
		ksft_print_msg(
			"%s: %zu of %zu pages differ, the first is page %zu (offset 0x%zx, huge page %zu)\n",
			how, bad, npages, first_bad, first_bad * ps,
			first_bad * ps / pmd_size);
	return !bad;
}

/* Every page of the mapping, read through page faults, has its pattern */
static bool mapping_intact(const char *how, const struct region *r)
{
	return pages_intact(how, r->addr, 0, r->npages);
}

/* Every page of the file, read with pread(2), has its pattern */
static bool pread_intact(const char *how, const struct region *r)
{
	char *buf = malloc(pmd_size);
	size_t off, per_huge = pmd_size / ps;
	bool ok = true;
	ssize_t ret;

	if (!buf) {
		ksft_print_msg("%s: no memory for the read buffer\n", how);
		return false;
	}
	/* one huge page at a time, so the buffer stays small */
	for (off = 0; ok && off < r->len; off += pmd_size) {
		ret = pread(r->fd, buf, pmd_size, off);
		if (ret != (ssize_t)pmd_size) {
			ksft_print_msg("%s: pread of 0x%zx bytes at 0x%zx returned %zd (%s)\n",
				       how, pmd_size, off, ret,
				       ret < 0 ? errno_name(errno) : "short");
			ok = false;
			break;
		}
		ok = pages_intact(how, buf, off / ps, per_huge);
	}
	free(buf);
	return ok;
}

/* Subtests.  Each one returns a KSFT_* code. */

static int test_written_is_pmd_mapped(struct region *r)
{
	ksft_print_msg("PMD-mapped %lu kB of %zu kB\n", pmd_mapped_kb(r),
		       r->len / 1024);
	return KSFT_PASS;
}

/*
 * One byte written at the start of a huge page: the whole PMD-sized folio
 * becomes data, the next huge page of the file stays a hole.
 */
static int test_one_byte_makes_whole_folio_data(struct region *r)
{
	bool ok = true;
	long fallback;
	int ret;

	/* two huge pages, so that i_size does not end the data anyway */
	fallback = vmstat_read("thp_file_fallback");
	ret = region_setup(r, 2 * pmd_size / ps);
	if (ret)
		return ret;
	r->addr[0] = 1;
	if (pmd_mapped_kb(r) < pmd_size / 1024) {
		print_smaps("after writing one byte", r);
		return no_huge_page(fallback);
	}
	ok &= seek_is(r->fd, 0, SEEK_DATA, 0, false);
	if (!seek_is(r->fd, 0, SEEK_HOLE, pmd_size, false)) {
		ksft_print_msg(
			"SEEK_HOLE from 0 should end the data at the end of the 0x%zx byte folio, not at the end of the written 0x%zx byte page\n",
			pmd_size, ps);
		ok = false;
	}
	ok &= seek_is(r->fd, ps, SEEK_DATA, ps, false);
	ok &= seek_is(r->fd, pmd_size - 1, SEEK_DATA, pmd_size - 1, false);
	ok &= seek_is(r->fd, pmd_size, SEEK_DATA, -ENXIO, false);
	ok &= seek_is(r->fd, pmd_size, SEEK_HOLE, pmd_size, false);
	return pass_if(ok);
}

static int test_pageout_swaps_out(struct region *r)
{
	struct thp_swpout before, after;
	int ret;

	if (!swap_present())
		return skip("no swap configured");
	ret = setup_written(r);
	if (ret)
		return ret;
	thp_swpout_read(&before);
	ret = pageout_all(r);
	thp_swpout_read(&after);
	/* 6.1 splits shmem huge pages for swap; 6.12+ can write them whole */
	ksft_print_msg("vmstat thp_swpout +%lu, thp_swpout_fallback +%lu\n",
		       after.whole - before.whole,
		       after.fallback - before.fallback);
	if (!ret && pmd_mapped_kb(r)) {
		print_smaps("after MADV_PAGEOUT", r);
		ksft_print_msg("huge pages still PMD-mapped after a verified page-out\n");
		ret = KSFT_FAIL;
	}
	return ret;
}

/* Every page of a swapped-out huge page file is data */
static int test_swapped_is_data(struct region *r)
{
	bool ok = true;
	size_t i;

	for (i = 0; i < r->npages; i++) {
		if (!seek_is(r->fd, i * ps, SEEK_DATA, i * ps, false)) {
			ksft_print_msg("page %zu (huge page %zu) is not data\n",
				       i, i * ps / pmd_size);
			ok = false;
			break;
		}
	}
	ok &= seek_is(r->fd, 0, SEEK_HOLE, r->len, false);
	if (!ok)
		print_smaps("after MADV_PAGEOUT", r);
	return pass_if(ok);
}

static int test_swapin_data_intact(struct region *r)
{
	bool ok;

	ok = mapping_intact("swap-in through page faults", r);
	if (!ok)
		print_smaps("after reading", r);
	return pass_if(ok);
}

/*
 * Swapped in through faults, paged out again, then read with pread(2):
 * shmem swaps the pages in for read(2) itself, without a fault.
 */
static int test_swapin_read_syscall_intact(struct region *r)
{
	bool ok;
	size_t i;
	int ret;

	for (i = 0; i < r->npages; i++)
		region_read(r, i);
	ret = pageout_all(r);
	if (ret)
		return ret;
	ok = pread_intact("swap-in through pread(2)", r);
	if (!ok)
		print_smaps("after pread(2)", r);
	return pass_if(ok);
}

/*
 * Fault in only every PARTIAL_STEP-th page of the swapped-out file, so that
 * large swap entries are partly swapped in, page out again and check every
 * page.  Whether the second page-out gets everything out depends on how the
 * kernel swapped in, so it is reported but not required.
 */
static int test_partial_swapin_then_pageout_intact(struct region *r)
{
	struct pageout_stats st;
	bool ok;
	size_t i;
	int ret;

	for (i = 0; i < r->npages; i += PARTIAL_STEP)
		region_read(r, i);
	print_smaps("after the partial swap-in", r);
	/* only the pages read back are in memory to be written out again */
	ret = pageout_range(r->addr, r->len, 0, &st);
	if (ret && ret != -EAGAIN)
		return setup_failed("MADV_PAGEOUT", -ret);
	ksft_print_msg("second page-out wrote %ld pages to swap\n", st.written);
	ok = mapping_intact("after partial swap-in and page-out", r);
	if (!ok)
		print_smaps("after reading", r);
	return pass_if(ok);
}

/* ShmemHugePages and ShmemPmdMapped of /proc/meminfo, in kB */
struct shmem_huge_kb {
	unsigned long pages;
	unsigned long pmd_mapped;
};

static int shmem_huge_read(struct shmem_huge_kb *kb)
{
	int ret = proc_field_kb("/proc/meminfo", "ShmemHugePages", &kb->pages);

	if (!ret)
		ret = proc_field_kb("/proc/meminfo", "ShmemPmdMapped",
				    &kb->pmd_mapped);
	return ret;
}

/*
 * The huge pages of the file, written and PMD-mapped (smaps
 * ShmemPmdMapped), are swapped out whole or split (confirmed by the swap
 * writes): /proc/meminfo ShmemHugePages and ShmemPmdMapped must each drop
 * by at least their size, and the file's smaps ShmemPmdMapped be 0.
 * Nothing else in the guest uses shmem huge pages, so the drop is theirs.
 */
static int test_pageout_drops_shmem_huge_pages(struct region *r)
{
	unsigned long want = pmd_mapped_kb(r);
	struct shmem_huge_kb before, after;
	bool ok = true;
	int ret;

	ret = shmem_huge_read(&before);
	if (ret == -ENOENT)
		return skip("no ShmemHugePages/ShmemPmdMapped in /proc/meminfo");
	if (ret)
		return setup_failed("reading /proc/meminfo", -ret);
	if (before.pages < want || before.pmd_mapped < want) {
		ksft_print_msg(
			"meminfo ShmemHugePages %lu kB, ShmemPmdMapped %lu kB with %lu kB of the file PMD-mapped\n",
			before.pages, before.pmd_mapped, want);
		return KSFT_FAIL;
	}
	ret = pageout_all(r);
	if (ret)
		return ret;
	ret = shmem_huge_read(&after);
	if (ret)
		return setup_failed("reading /proc/meminfo", -ret);
	ksft_print_msg(
		"meminfo ShmemHugePages %lu -> %lu kB, ShmemPmdMapped %lu -> %lu kB; %lu kB swapped out\n",
		before.pages, after.pages, before.pmd_mapped,
		after.pmd_mapped, want);
	if (after.pages + want > before.pages) {
		ksft_print_msg("ShmemHugePages dropped by %ld kB, not by the %lu kB swapped out\n",
			       (long)(before.pages - after.pages), want);
		ok = false;
	}
	if (after.pmd_mapped + want > before.pmd_mapped) {
		ksft_print_msg("ShmemPmdMapped dropped by %ld kB, not by the %lu kB swapped out\n",
			       (long)(before.pmd_mapped - after.pmd_mapped), want);
		ok = false;
	}
	if (pmd_mapped_kb(r)) {
		print_smaps("after MADV_PAGEOUT", r);
		ok = false;
	}
	return pass_if(ok);
}

static const struct subtest subtests[] = {
	{ "written_is_pmd_mapped", test_written_is_pmd_mapped, ON_THP, setup_written },
	{ "one_byte_makes_whole_folio_data", test_one_byte_makes_whole_folio_data,
	  ON_THP },
	{ "pageout_swaps_out", test_pageout_swaps_out, ON_THP },
	{ "swapped_is_data", test_swapped_is_data, ON_THP, setup_paged_out },
	{ "swapin_data_intact", test_swapin_data_intact, ON_THP, setup_paged_out },
	{ "swapin_read_syscall_intact", test_swapin_read_syscall_intact, ON_THP, setup_paged_out },
	{ "partial_swapin_then_pageout_intact",
	  test_partial_swapin_then_pageout_intact, ON_THP, setup_paged_out },
	{ "pageout_drops_shmem_huge_pages", test_pageout_drops_shmem_huge_pages,
	  ON_THP, setup_written },
};

/* Can this kernel give shmem huge pages at all? */
static void probe_thp(void)
{
	static const char * const huge_opts[] = {
		"size=64m,mode=0700,huge=always",
		"size=64m,mode=0700,huge=within_size",
	};
	struct backend *b = &backends[BACKEND_THP];

	if (access(THP_SYSFS "shmem_enabled", F_OK)) {
		snprintf(b->skip, sizeof(b->skip),
			 "no shmem THP in this kernel (no %sshmem_enabled)",
			 THP_SYSFS);
		return;
	}
	pmd_size = thp_pmd_size();
	if (!pmd_size) {
		snprintf(b->skip, sizeof(b->skip), "no usable %shpage_pmd_size",
			 THP_SYSFS);
		return;
	}
	if (!mount_private_tmpfs(b, huge_opts, ARRAY_SIZE(huge_opts)))
		b->huge_size = pmd_size;
}

/*
 * The swap areas, and whether their disk is rotational: before the swap
 * allocator rework (6.13, 6.14) only a non-rotational block device had the
 * clusters needed for a huge page to be written to swap whole.
 */
static void print_swap_areas(void)
{
	char line[256], name[128], type[32], path[192], rot[16];
	const char *dev;
	FILE *fp;

	fp = fopen("/proc/swaps", "re");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%127s %31s", name, type) != 2 ||
		    !strcmp(name, "Filename"))
			continue;
		dev = strncmp(name, "/dev/", 5) ? NULL : name + 5;
		snprintf(path, sizeof(path), "/sys/block/%s/queue/rotational",
			 dev ? dev : "-");
		if (!dev || read_first_line(path, rot, sizeof(rot)))
			snprintf(rot, sizeof(rot), "?");
		ksft_print_msg("swap area %s (%s), rotational %s\n", name, type,
			       rot);
	}
	fclose(fp);
}

static void print_environment(void)
{
	print_swap_areas();
	if (pmd_size)
		ksft_print_msg("PMD size %zu kB\n", pmd_size / 1024);
}

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.setup = probe_thp,
	.environment = print_environment,
};

int main(void)
{
	ps = sys_pagesize();
	suite_main(&suite);
}
