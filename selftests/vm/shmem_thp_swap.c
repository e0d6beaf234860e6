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
 * Needs root (for the mount in a private mount namespace), shmem THP and,
 * for the page-out subtests, swap; without them the subtests skip with the
 * reason.  Page-out is MADV_PAGEOUT verified through smaps Swap:.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

#define THP_SYSFS		"/sys/kernel/mm/transparent_hugepage/"
/* huge pages in the test file */
#define NR_HUGE			4
/* in the partial swap-in, every PARTIAL_STEP-th page is faulted in */
#define PARTIAL_STEP		3

enum {
	BACKEND_THP,
	NR_BACKENDS,
};

#define ON_THP	(1U << BACKEND_THP)

static struct backend_info backends[NR_BACKENDS] = {
	[BACKEND_THP] = { .name = "thp" },
};

/* Where the huge=always tmpfs is mounted, empty when it is not */
static char mnt_dir[64];
static const char *mnt_opts;

static size_t ps;
static size_t pmd_size;
static bool swap_on;

/* A file of the huge tmpfs, mapped PMD-aligned */
struct map_region {
	char *addr;
	size_t len;
	size_t npages;
	int fd;
};

/*
 * Map @len bytes of @fd shared at a PMD-aligned address, so that each
 * PMD-sized folio of the file can be mapped by a PMD.
 */
static char *map_pmd_aligned(int fd, size_t len)
{
	size_t span = len + pmd_size;
	uintptr_t start, aligned, end;
	char *area, *addr;
	int err;

	area = mmap(NULL, span, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return MAP_FAILED;
	start = (uintptr_t)area;
	aligned = (start + pmd_size - 1) & ~(uintptr_t)(pmd_size - 1);
	addr = mmap((void *)aligned, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_FIXED, fd, 0);
	if (addr == MAP_FAILED) {
		err = errno;
		munmap(area, span);
		errno = err;
		return MAP_FAILED;
	}
	if (aligned > start)
		munmap(area, aligned - start);
	end = aligned + len;
	if (start + span > end)
		munmap((void *)end, start + span - end);
	return addr;
}

/*
 * A fresh file of @len bytes on the huge tmpfs, mapped PMD-aligned with
 * MADV_HUGEPAGE.  Returns 0 or a negative errno.
 */
static int map_region_create(size_t len, struct map_region *r)
{
	int err;

	r->len = len;
	r->npages = len / ps;
	r->fd = tmpfile_new(mnt_dir);
	if (r->fd < 0)
		return r->fd;
	if (ftruncate(r->fd, len))
		goto fail;
	r->addr = map_pmd_aligned(r->fd, len);
	if (r->addr == MAP_FAILED)
		goto fail;
	/* huge=always needs no advice; a failure is only worth a note */
	if (madvise(r->addr, len, MADV_HUGEPAGE))
		ksft_print_msg("madvise(MADV_HUGEPAGE): %s\n",
			       errno_name(errno));
	return 0;
fail:
	err = -errno;
	close(r->fd);
	r->fd = -1;
	return err;
}

static void map_region_destroy(struct map_region *r)
{
	munmap(r->addr, r->len);
	close(r->fd);
	r->fd = -1;
}

static char *page_addr(const struct map_region *r, size_t idx)
{
	return r->addr + idx * ps;
}

/* Touch page @idx with a read access (a read fault if it is not mapped) */
static char read_page(const struct map_region *r, size_t idx)
{
	return __atomic_load_n(page_addr(r, idx), __ATOMIC_RELAXED);
}

/* smaps value of @field of the mapping, 0 when absent */
static unsigned long smaps_kb(const struct map_region *r, const char *field)
{
	unsigned long kb = 0;

	smaps_vma_field_kb(r->addr, field, &kb, NULL);
	return kb;
}

/* How much of the mapping is mapped by PMDs, in kB */
static unsigned long pmd_mapped_kb(const struct map_region *r)
{
	/* shmem THPs count as ShmemPmdMapped, other file THPs as FilePmdMapped */
	return smaps_kb(r, "ShmemPmdMapped") + smaps_kb(r, "FilePmdMapped");
}

/* Value of counter @name in /proc/vmstat; 0 or a negative errno */
static int vmstat_read(const char *name, unsigned long *val)
{
	size_t name_len = strlen(name);
	char line[128];
	int ret = -ENOENT;
	FILE *fp;

	fp = fopen("/proc/vmstat", "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		if (strncmp(line, name, name_len) || line[name_len] != ' ')
			continue;
		ret = sscanf(line + name_len, "%lu", val) == 1 ? 0 : -EINVAL;
		break;
	}
	fclose(fp);
	return ret;
}

/* THP swap-out counters, to tell whole huge pages from split ones */
struct thp_swpout {
	unsigned long whole;
	unsigned long fallback;
};

static void thp_swpout_read(struct thp_swpout *c)
{
	c->whole = c->fallback = 0;
	vmstat_read("thp_swpout", &c->whole);
	vmstat_read("thp_swpout_fallback", &c->fallback);
}

static void print_smaps(const char *when, const struct map_region *r)
{
	ksft_print_msg("%s: smaps Rss %lu kB, ShmemPmdMapped %lu kB, FilePmdMapped %lu kB, Swap %lu kB of %zu kB\n",
		       when, smaps_kb(r, "Rss"), smaps_kb(r, "ShmemPmdMapped"),
		       smaps_kb(r, "FilePmdMapped"), smaps_kb(r, "Swap"),
		       r->len / 1024);
}

/*
 * A fresh NR_HUGE huge page file, written with the page pattern through the
 * mapping and PMD-mapped.  Returns KSFT_PASS with the region set up, or the
 * code the subtest ends with.
 */
static int setup_written(struct map_region *r)
{
	unsigned long kb;
	int ret;

	ret = map_region_create(NR_HUGE * pmd_size, r);
	if (ret)
		return setup_failed("creating and mapping the file", -ret);
	fill_pages(r->addr, r->npages);
	kb = pmd_mapped_kb(r);
	if (!kb) {
		print_smaps("after writing", r);
		map_region_destroy(r);
		return skip("no huge page allocated");
	}
	return KSFT_PASS;
}

/*
 * Page out the whole mapping and verify it through smaps Swap:.  Returns
 * KSFT_PASS when done, else a SKIP or setup failure, or with @must
 * KSFT_FAIL when the page-out could not be verified.
 */
static int pageout_all(const struct map_region *r, bool must)
{
	unsigned long swap_kb = 0;
	int ret;

	if (!swap_on)
		return skip("no swap");
	ret = pageout_range(r->addr, r->len, PAGEOUT_RETRIES, &swap_kb);
	if (ret == -EINVAL)
		return skip("MADV_PAGEOUT not supported (EINVAL)");
	if (ret == -EAGAIN) {
		print_smaps("after MADV_PAGEOUT", r);
		if (must) {
			ksft_print_msg("page-out not verified: smaps Swap: %lu kB of %zu kB after %d attempts\n",
				       swap_kb, r->len / 1024,
				       PAGEOUT_RETRIES + 1);
			return KSFT_FAIL;
		}
		return skip("page-out not verified: smaps Swap: %lu kB of %zu kB after %d attempts",
			    swap_kb, r->len / 1024, PAGEOUT_RETRIES + 1);
	}
	if (ret)
		return setup_failed("MADV_PAGEOUT", -ret);
	return KSFT_PASS;
}

/* setup_written() and then page it all out */
static int setup_paged_out(struct map_region *r)
{
	int ret;

	if (!swap_on)
		return skip("no swap");
	ret = setup_written(r);
	if (ret)
		return ret;
	ret = pageout_all(r, false);
	if (ret)
		map_region_destroy(r);
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
		ksft_print_msg("%s: %zu of %zu pages differ, the first is page %zu (offset 0x%zx, huge page %zu)\n",
			       how, bad, npages, first_bad, first_bad * ps,
			       first_bad * ps / pmd_size);
	return !bad;
}

/* Every page of the mapping, read through page faults, has its pattern */
static bool mapping_intact(const char *how, const struct map_region *r)
{
	return pages_intact(how, r->addr, 0, r->npages);
}

/* Every page of the file, read with pread(2), has its pattern */
static bool pread_intact(const char *how, const struct map_region *r)
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

static int test_written_is_pmd_mapped(int backend)
{
	struct map_region r;
	int ret;

	(void)backend;
	ret = setup_written(&r);
	if (ret)
		return ret;
	ksft_print_msg("PMD-mapped %lu kB of %zu kB\n", pmd_mapped_kb(&r),
		       r.len / 1024);
	map_region_destroy(&r);
	return KSFT_PASS;
}

/*
 * One byte written at the start of a huge page: the whole PMD-sized folio
 * becomes data, the next huge page of the file stays a hole.
 */
static int test_one_byte_makes_whole_folio_data(int backend)
{
	struct map_region r;
	bool ok = true;
	int ret;

	(void)backend;
	/* two huge pages, so that i_size does not end the data anyway */
	ret = map_region_create(2 * pmd_size, &r);
	if (ret)
		return setup_failed("creating and mapping the file", -ret);
	r.addr[0] = 1;
	if (pmd_mapped_kb(&r) < pmd_size / 1024) {
		print_smaps("after writing one byte", &r);
		map_region_destroy(&r);
		return skip("no huge page allocated");
	}
	ok &= seek_is(r.fd, 0, SEEK_DATA, 0, false);
	if (!seek_is(r.fd, 0, SEEK_HOLE, pmd_size, false)) {
		ksft_print_msg("SEEK_HOLE from 0 should end the data at the end of the 0x%zx byte folio, not at the end of the written 0x%zx byte page\n",
			       pmd_size, ps);
		ok = false;
	}
	ok &= seek_is(r.fd, ps, SEEK_DATA, ps, false);
	ok &= seek_is(r.fd, pmd_size - 1, SEEK_DATA, pmd_size - 1, false);
	ok &= seek_is(r.fd, pmd_size, SEEK_DATA, -ENXIO, false);
	ok &= seek_is(r.fd, pmd_size, SEEK_HOLE, pmd_size, false);
	map_region_destroy(&r);
	return ok ? KSFT_PASS : KSFT_FAIL;
}

static int test_pageout_swaps_out(int backend)
{
	struct thp_swpout before, after;
	struct map_region r;
	int ret;

	(void)backend;
	if (!swap_on)
		return skip("no swap");
	ret = setup_written(&r);
	if (ret)
		return ret;
	thp_swpout_read(&before);
	ret = pageout_all(&r, true);
	thp_swpout_read(&after);
	/* 6.1 splits shmem huge pages for swap; 6.12+ can write them whole */
	ksft_print_msg("vmstat thp_swpout +%lu, thp_swpout_fallback +%lu\n",
		       after.whole - before.whole,
		       after.fallback - before.fallback);
	if (!ret && pmd_mapped_kb(&r)) {
		print_smaps("after MADV_PAGEOUT", &r);
		ksft_print_msg("huge pages still PMD-mapped after a verified page-out\n");
		ret = KSFT_FAIL;
	}
	map_region_destroy(&r);
	return ret;
}

/* Every page of a swapped-out huge page file is data */
static int test_swapped_is_data(int backend)
{
	struct map_region r;
	bool ok = true;
	size_t i;
	int ret;

	(void)backend;
	ret = setup_paged_out(&r);
	if (ret)
		return ret;
	for (i = 0; i < r.npages; i++) {
		if (!seek_is(r.fd, i * ps, SEEK_DATA, i * ps, false)) {
			ksft_print_msg("page %zu (huge page %zu) is not data\n",
				       i, i * ps / pmd_size);
			ok = false;
			break;
		}
	}
	ok &= seek_is(r.fd, 0, SEEK_HOLE, r.len, false);
	if (!ok)
		print_smaps("after MADV_PAGEOUT", &r);
	map_region_destroy(&r);
	return ok ? KSFT_PASS : KSFT_FAIL;
}

static int test_swapin_data_intact(int backend)
{
	struct map_region r;
	bool ok;
	int ret;

	(void)backend;
	ret = setup_paged_out(&r);
	if (ret)
		return ret;
	ok = mapping_intact("swap-in through page faults", &r);
	if (!ok)
		print_smaps("after reading", &r);
	map_region_destroy(&r);
	return ok ? KSFT_PASS : KSFT_FAIL;
}

/*
 * Swapped in through faults, paged out again, then read with pread(2):
 * shmem swaps the pages in for read(2) itself, without a fault.
 */
static int test_swapin_read_syscall_intact(int backend)
{
	struct map_region r;
	bool ok;
	size_t i;
	int ret;

	(void)backend;
	ret = setup_paged_out(&r);
	if (ret)
		return ret;
	for (i = 0; i < r.npages; i++)
		read_page(&r, i);
	ret = pageout_all(&r, false);
	if (ret) {
		map_region_destroy(&r);
		return ret;
	}
	ok = pread_intact("swap-in through pread(2)", &r);
	if (!ok)
		print_smaps("after pread(2)", &r);
	map_region_destroy(&r);
	return ok ? KSFT_PASS : KSFT_FAIL;
}

/*
 * Fault in only every PARTIAL_STEP-th page of the swapped-out file, so that
 * large swap entries are partly swapped in, page out again and check every
 * page.  Whether the second page-out gets everything out depends on how the
 * kernel swapped in, so it is reported but not required.
 */
static int test_partial_swapin_then_pageout_intact(int backend)
{
	unsigned long swap_kb = 0;
	struct map_region r;
	bool ok;
	size_t i;
	int ret;

	(void)backend;
	ret = setup_paged_out(&r);
	if (ret)
		return ret;
	for (i = 0; i < r.npages; i += PARTIAL_STEP)
		read_page(&r, i);
	print_smaps("after the partial swap-in", &r);
	ret = pageout_range(r.addr, r.len, PAGEOUT_RETRIES, &swap_kb);
	if (ret && ret != -EAGAIN) {
		map_region_destroy(&r);
		return setup_failed("MADV_PAGEOUT", -ret);
	}
	if (ret)
		print_smaps("second page-out not complete", &r);
	ok = mapping_intact("after partial swap-in and page-out", &r);
	if (!ok)
		print_smaps("after reading", &r);
	map_region_destroy(&r);
	return ok ? KSFT_PASS : KSFT_FAIL;
}

static const struct subtest subtests[] = {
	{ "written_is_pmd_mapped", test_written_is_pmd_mapped, ON_THP },
	{ "one_byte_makes_whole_folio_data", test_one_byte_makes_whole_folio_data,
	  ON_THP },
	{ "pageout_swaps_out", test_pageout_swaps_out, ON_THP },
	{ "swapped_is_data", test_swapped_is_data, ON_THP },
	{ "swapin_data_intact", test_swapin_data_intact, ON_THP },
	{ "swapin_read_syscall_intact", test_swapin_read_syscall_intact, ON_THP },
	{ "partial_swapin_then_pageout_intact",
	  test_partial_swapin_then_pageout_intact, ON_THP },
};

/*
 * As root, mount a huge=always tmpfs of our own in a private mount
 * namespace.  Returns 0, or a negative errno with a SKIP reason in @why.
 */
static int mount_huge_tmpfs(char *why, size_t len)
{
	static const char * const mountpoints[] = {
		"/mnt", "/tmp", "/dev/shm", "/dev",
	};
	static const char * const huge_opts[] = {
		"size=64m,mode=0700,huge=always",
		"size=64m,mode=0700,huge=within_size",
	};
	size_t i, j;
	int err = -ENOENT;

	if (geteuid() != 0) {
		snprintf(why, len, "needs root to mount a huge tmpfs");
		return -EPERM;
	}
	if (unshare(CLONE_NEWNS)) {
		err = -errno;
		snprintf(why, len, "unshare(CLONE_NEWNS): %s", errno_name(err));
		return err;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		err = -errno;
		snprintf(why, len, "making / private: %s", errno_name(err));
		return err;
	}
	for (i = 0; i < ARRAY_SIZE(mountpoints); i++) {
		for (j = 0; j < ARRAY_SIZE(huge_opts); j++) {
			if (mount("shmem_thp_swap", mountpoints[i], "tmpfs",
				  MS_NOSUID | MS_NODEV, huge_opts[j])) {
				err = -errno;
				continue;
			}
			if (tmpfs_dir_usable(mountpoints[i])) {
				snprintf(mnt_dir, sizeof(mnt_dir), "%s",
					 mountpoints[i]);
				mnt_opts = huge_opts[j];
				return 0;
			}
			umount2(mountpoints[i], MNT_DETACH);
		}
	}
	snprintf(why, len, "cannot mount a huge tmpfs: %s", errno_name(err));
	return err;
}

/* Can this kernel give shmem huge pages at all? */
static void probe_thp(void)
{
	struct backend_info *b = &backends[BACKEND_THP];
	char buf[64];
	int ret;

	if (access(THP_SYSFS "shmem_enabled", F_OK)) {
		snprintf(b->skip, sizeof(b->skip),
			 "no shmem THP in this kernel (no %sshmem_enabled)",
			 THP_SYSFS);
		return;
	}
	ret = read_first_line(THP_SYSFS "hpage_pmd_size", buf, sizeof(buf));
	if (!ret) {
		pmd_size = strtoul(buf, NULL, 0);
		/* a power of two of at least two pages */
		if (pmd_size <= ps || (pmd_size & (pmd_size - 1)))
			ret = -EINVAL;
	}
	if (ret) {
		snprintf(b->skip, sizeof(b->skip), "reading %shpage_pmd_size: %s",
			 THP_SYSFS, errno_name(ret));
		return;
	}
	mount_huge_tmpfs(b->skip, sizeof(b->skip));
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
	print_env_banner();
	print_env_pin_cpu();
	print_swap_areas();
	if (pmd_size)
		ksft_print_msg("PMD size %zu kB\n", pmd_size / 1024);
	if (mnt_dir[0])
		ksft_print_msg("mounted a private tmpfs on %s (%s)\n", mnt_dir,
			       mnt_opts);
}

int main(void)
{
	ps = sys_pagesize();
	ksft_print_header();
	ksft_set_plan(subtests_plan(subtests, ARRAY_SIZE(subtests),
				    NR_BACKENDS));

	swap_on = swap_present();
	probe_thp();
	print_environment();

	run_subtests(subtests, ARRAY_SIZE(subtests), backends, NR_BACKENDS,
		     NULL);

	if (mnt_dir[0])
		umount2(mnt_dir, MNT_DETACH);
	ksft_finished();
}
