// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the page-residency selftests; see residency_util.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/kernel-page-flags.h>

#include "residency_util.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC	0x01021994
#endif

#define SMAPS_PATH	"/proc/self/smaps"
#define PAGEMAP_PATH	"/proc/self/pagemap"
/* long enough for a VMA header with a PATH_MAX file name */
#define SMAPS_LINE_MAX	4352
/* each memory.reclaim request: far more than a child cgroup holds */
#define RECLAIM_REQUEST	"64M"

size_t sys_pagesize(void)
{
	static size_t page_size;

	if (!page_size) {
		long ret = sysconf(_SC_PAGESIZE);

		page_size = ret > 0 ? (size_t)ret : 4096;
	}
	return page_size;
}

struct errno_entry {
	int err;
	const char *name;
};

#define ERRNO_ENTRY(e)	{ e, #e }

static const struct errno_entry errno_table[] = {
	ERRNO_ENTRY(EPERM),	ERRNO_ENTRY(ENOENT),	ERRNO_ENTRY(ESRCH),
	ERRNO_ENTRY(EINTR),	ERRNO_ENTRY(EIO),	ERRNO_ENTRY(ENXIO),
	ERRNO_ENTRY(E2BIG),	ERRNO_ENTRY(EBADF),	ERRNO_ENTRY(EAGAIN),
	ERRNO_ENTRY(ENOMEM),	ERRNO_ENTRY(EACCES),	ERRNO_ENTRY(EFAULT),
	ERRNO_ENTRY(EBUSY),	ERRNO_ENTRY(EEXIST),	ERRNO_ENTRY(ENODEV),
	ERRNO_ENTRY(ENOTDIR),	ERRNO_ENTRY(EISDIR),	ERRNO_ENTRY(EINVAL),
	ERRNO_ENTRY(EMFILE),	ERRNO_ENTRY(ENOTTY),	ERRNO_ENTRY(EFBIG),
	ERRNO_ENTRY(ENOSPC),	ERRNO_ENTRY(ESPIPE),	ERRNO_ENTRY(EROFS),
	ERRNO_ENTRY(ERANGE),	ERRNO_ENTRY(EOPNOTSUPP),	ERRNO_ENTRY(EOVERFLOW),
	ERRNO_ENTRY(ETIMEDOUT),	ERRNO_ENTRY(EHWPOISON),	ERRNO_ENTRY(ENODATA),
};

const char *errno_name(int err)
{
	static char unknown[16];
	size_t i;

	if (err < 0)
		err = -err;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
	if (strerrorname_np(err))
		return strerrorname_np(err);
#endif
	/* other C libraries: the values these tests meet */
	for (i = 0; i < ARRAY_SIZE(errno_table); i++)
		if (errno_table[i].err == err)
			return errno_table[i].name;
	snprintf(unknown, sizeof(unknown), "E%d", err);
	return unknown;
}

const char *seek_str(off_t off, int err, char *buf, size_t len)
{
	if (off == -1)
		snprintf(buf, len, "-1 (%s)", errno_name(err));
	else
		snprintf(buf, len, "0x%llx", (unsigned long long)off);
	return buf;
}

static const char *whence_name(int whence)
{
	return whence == SEEK_DATA ? "SEEK_DATA" :
	       whence == SEEK_HOLE ? "SEEK_HOLE" : "SEEK_?";
}

bool seek_is(int fd, off_t off, int whence, off_t want, bool quiet)
{
	char got_buf[48], want_buf[48];
	off_t got;
	int err;

	errno = 0;
	got = lseek(fd, off, whence);
	err = errno;
	if (want >= 0 ? got == want : got == -1 && err == -want)
		return true;

	if (!quiet)
		ksft_print_msg("%s from %s%llx: got %s, expected %s\n",
			       whence_name(whence), off < 0 ? "-0x" : "0x",
			       (unsigned long long)(off < 0 ? -off : off),
			       seek_str(got, err, got_buf, sizeof(got_buf)),
			       seek_str(want < 0 ? -1 : want, (int)-want,
					want_buf, sizeof(want_buf)));
	return false;
}

int pagemap_open(void)
{
	int fd = open(PAGEMAP_PATH, O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int pagemap_read(int fd, const void *addr, uint64_t *entry)
{
	off_t off = (off_t)((uintptr_t)addr / sys_pagesize()) * (off_t)sizeof(*entry);
	bool own_fd = fd < 0;
	ssize_t ret;
	int err = 0;

	if (own_fd) {
		fd = pagemap_open();
		if (fd < 0)
			return fd;
	}

	ret = pread(fd, entry, sizeof(*entry), off);
	if (ret < 0)
		err = -errno;
	else if (ret != sizeof(*entry))
		err = -EIO;

	if (own_fd)
		close(fd);
	return err;
}

static const struct {
	uint64_t mask;
	const char *name;
} pagemap_flag_names[] = {
	{ PME_PRESENT, "PRESENT" },
	{ PME_SWAP, "SWAP" },
	{ PME_FILE, "FILE" },
	{ PME_MMAP_EXCLUSIVE, "EXCLUSIVE" },
	{ PME_UFFD_WP, "UFFD_WP" },
	{ PME_GUARD_REGION, "GUARD" },
	{ PME_SOFT_DIRTY, "SOFT_DIRTY" },
};

const char *pagemap_flags_str(uint64_t mask, const char *none, char *buf,
			      size_t len)
{
	size_t used = 0;
	size_t i;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(pagemap_flag_names) && used < len; i++)
		if (pagemap_entry_has(mask, pagemap_flag_names[i].mask))
			used += snprintf(buf + used, len - used, "%s%s",
					 used ? "|" : "",
					 pagemap_flag_names[i].name);
	if (!used)
		snprintf(buf, len, "%s", none);
	return buf;
}

const char *pagemap_describe(uint64_t entry, char *buf, size_t len)
{
	size_t used;

	if (!len)
		return buf;

	used = snprintf(buf, len, "0x%016llx ", (unsigned long long)entry);
	if (used >= len)
		return buf;
	pagemap_flags_str(entry, "none", buf + used, len - used);
	used += strlen(buf + used);
	if (used >= len - 1)
		return buf;
	if (pagemap_entry_has(entry, PME_PRESENT)) {
		snprintf(buf + used, len - used, " pfn=0x%llx",
			 (unsigned long long)(entry & PME_PFN_MASK));
	} else if (pagemap_entry_has(entry, PME_SWAP)) {
		snprintf(buf + used, len - used,
			 " swp_type=%llu swp_offset=0x%llx",
			 (unsigned long long)(entry & PME_SWAP_TYPE_MASK),
			 (unsigned long long)((entry & PME_PFN_MASK) >>
					      PME_SWAP_OFFSET_SHIFT));
	}
	return buf;
}

bool pagemap_entry_is(const char *when, size_t idx, uint64_t entry,
		      uint64_t set, uint64_t clear)
{
	char desc[160], want_set[96], want_clear[96];

	if ((entry & set) == set && !(entry & clear))
		return true;
	pagemap_describe(entry, desc, sizeof(desc));
	if (!set && clear == PME_NONE_MASK)
		ksft_print_msg("%s%spage %zu: pagemap %s; expected none (nothing but SOFT_DIRTY)\n",
			       when ? when : "", when ? ": " : "", idx, desc);
	else
		ksft_print_msg("%s%spage %zu: pagemap %s; expected %s set, %s clear\n",
			       when ? when : "", when ? ": " : "", idx, desc,
			       pagemap_flags_str(set, "-", want_set,
						 sizeof(want_set)),
			       pagemap_flags_str(clear, "-", want_clear,
						 sizeof(want_clear)));
	return false;
}

/*
 * What PAGEMAP_SCAN must say of a page, given its /proc/pid/pagemap entry.
 * Each row pairs a category with the pagemap bit that reads the same page
 * table entry; the kernel computes both in fs/proc/task_mmu.c
 * (pagemap_page_category() and pte_to_pagemap_entry() and their PMD
 * counterparts).  PAGEMAP_SCAN exists since 6.7 (ENOTTY before), so no row
 * is checked on 6.1.
 */
struct scan_row {
	uint64_t category;
	uint64_t pme;
	const char *name;
	/* newer than PAGEMAP_SCAN: checked where pagemap_scan_has() it */
	bool probed;
};

static const struct scan_row scan_rows[] = {
	/*
	 * pagemap.rst: "PAGE_IS_PRESENT - Page is present in the memory" and
	 * bit 63 "page present".  6.7+.
	 */
	{ PAGE_IS_PRESENT, PME_PRESENT, "PRESENT" },
	/*
	 * "PAGE_IS_SWAPPED - Page is in swapped" and bit 62 "page swapped":
	 * every non-present, non-none pte, PTE markers included (§2a of the
	 * research notes).  6.7+.
	 */
	{ PAGE_IS_SWAPPED, PME_SWAP, "SWAPPED" },
	/*
	 * "PAGE_IS_FILE - Page is file backed" and bit 61 "page is file-page
	 * or shared-anon".  6.7+.  Known difference: pagemap reports PM_FILE
	 * for the huge zero page, PAGEMAP_SCAN not; the programs keep THP off
	 * where they read pagemap, so no exception is made here.
	 */
	{ PAGE_IS_FILE, PME_FILE, "FILE" },
	/*
	 * "PAGE_IS_SOFT_DIRTY - Page is soft-dirty" and bit 55 "pte is
	 * soft-dirty" (soft-dirty.rst): the pte's bit, or VM_SOFTDIRTY of the
	 * VMA for every page of it, in both.  6.7+.
	 */
	{ PAGE_IS_SOFT_DIRTY, PME_SOFT_DIRTY, "SOFT_DIRTY" },
	/*
	 * "PAGE_IS_GUARD - Page is a part of a guard region" (7.3's
	 * pagemap.rst; absent from 6.12's uapi/linux/fs.h) and bit 58 "pte is
	 * a guard region (since 6.15)".  A kernel that does not know the
	 * category fails the ioctl with EINVAL (do_pagemap_scan()), which
	 * pagemap_scan_has() takes for "no PAGE_IS_GUARD": 7.2 and 7.3 have
	 * it, 6.12 has not.
	 */
	{ PAGE_IS_GUARD, PME_GUARD_REGION, "GUARD", true },
};

/* The rows of scan_rows[] this kernel's PAGEMAP_SCAN can be asked for */
static bool scan_row_checked(const struct scan_row *row)
{
	return !row->probed || pagemap_scan_has(row->category);
}

/*
 * PAGE_IS_PFNZERO ("Page has zero PFN") has no pagemap bit: it is checked
 * against the PFN of a present entry, whose /proc/kpageflags entry has
 * ZERO_PAGE (bit 24, pagemap.rst: "zero page for pfn_zero or huge_zero
 * page") exactly when it is the zero page.  kpageflags is read rather than
 * the PFN of a page assumed to map the zero page, which would take the
 * kernel's word for what is being checked.  Root only: without
 * CAP_SYS_ADMIN the PFN reads 0 and the row is not checked.  The huge zero
 * folio got PAGE_IS_PFNZERO with "fs/proc/task_mmu: fix PAGE_IS_PFNZERO
 * detection for the huge zero folio" (6.12.37 and later).
 */
#define SCAN_CATEGORIES	(PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | \
			 PAGE_IS_SOFT_DIRTY | PAGE_IS_PFNZERO)

static int kpageflags_fd = -1;

/* Is the PFN of present @entry the zero page?  0, 1, or a negative errno */
static int pfn_is_zero_page(uint64_t entry)
{
	uint64_t pfn = entry & PME_PFN_MASK, flags;
	ssize_t ret;

	if (!pfn)
		return -EPERM;
	if (kpageflags_fd < 0)
		kpageflags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (kpageflags_fd < 0)
		return -errno;
	ret = pread(kpageflags_fd, &flags, sizeof(flags), pfn * sizeof(flags));
	if (ret < 0)
		return -errno;
	if (ret != sizeof(flags))
		return -EIO;
	return !!(flags & (1ULL << KPF_ZERO_PAGE));
}

long pagemap_scan_ioctl(struct pm_scan_arg *arg)
{
	int fd = pagemap_fd >= 0 ? pagemap_fd : pagemap_open();
	long ret;

	if (fd < 0)
		return fd;
	arg->size = sizeof(*arg);
	ret = ioctl(fd, PAGEMAP_SCAN, arg);
	if (ret < 0)
		ret = -errno;
	if (fd != pagemap_fd)
		close(fd);
	return ret;
}

static long pagemap_scan(const void *start, size_t len, uint64_t return_mask,
			 struct page_region *vec, size_t vec_len)
{
	struct pm_scan_arg arg = {
		.start = (uintptr_t)start,
		.end = (uintptr_t)start + len,
		.vec = (uintptr_t)vec,
		.vec_len = vec_len,
		.return_mask = return_mask,
	};

	return pagemap_scan_ioctl(&arg);
}

/* PAGEMAP_SCAN of one fresh page with @return_mask: 0 or a negative errno */
static int pagemap_scan_probe(uint64_t return_mask)
{
	struct page_region region;
	char *page;
	long ret;

	page = mmap(NULL, sys_pagesize(), PROT_READ,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return -ENOMEM;
	ret = pagemap_scan(page, sys_pagesize(), return_mask, &region, 1);
	munmap(page, sys_pagesize());
	return ret < 0 ? ret : 0;
}

bool pagemap_scan_available(const char **why)
{
	static int probed = 1;

	if (probed > 0)
		probed = pagemap_scan_probe(PAGE_IS_PRESENT);
	if (probed && why)
		*why = errno_name(-probed);
	return !probed;
}

bool pagemap_scan_has(uint64_t category)
{
	static uint64_t probed, known;

	if (!pagemap_scan_available(NULL))
		return false;
	if (!(probed & category)) {
		if (!pagemap_scan_probe(category))
			known |= category;
		probed |= category;
	}
	return (known & category) == category;
}

int pagemap_scan_pages(const void *base, size_t first, size_t npages,
		       uint64_t return_mask, uint64_t *cats)
{
	const char *start = (const char *)base + first * sys_pagesize();
	struct page_region *vec;
	size_t i, page;
	long n;

	vec = calloc(npages, sizeof(*vec));
	if (!vec)
		return -ENOMEM;
	n = pagemap_scan(start, npages * sys_pagesize(), return_mask, vec,
			 npages);
	for (i = 0; i < npages; i++)
		cats[i] = 0;
	/* pages in no region have no category at all */
	for (i = 0; n > 0 && i < (size_t)n; i++) {
		for (page = (vec[i].start - (uintptr_t)start) / sys_pagesize();
		     page < (vec[i].end - (uintptr_t)start) / sys_pagesize() &&
		     page < npages; page++)
			cats[page] = vec[i].categories;
	}
	free(vec);
	return n < 0 ? (int)n : 0;
}

/*
 * The PAGEMAP_SCAN categories that read(2)'s @entry stands for into *@want,
 * and those of them that can be told into *@known.
 */
static void entry_categories(uint64_t entry, uint64_t *want, uint64_t *known)
{
	size_t i;
	int zero;

	*want = 0;
	*known = 0;
	for (i = 0; i < ARRAY_SIZE(scan_rows); i++) {
		if (!scan_row_checked(&scan_rows[i]))
			continue;
		*known |= scan_rows[i].category;
		if (entry & scan_rows[i].pme)
			*want |= scan_rows[i].category;
	}
	/* only a present pte can map the zero page */
	zero = entry & PME_PRESENT ? pfn_is_zero_page(entry) : 0;
	if (zero >= 0)
		*known |= PAGE_IS_PFNZERO;
	if (zero > 0)
		*want |= PAGE_IS_PFNZERO;
}

/* Page @idx's PAGEMAP_SCAN @cats must say what its @entry says */
static bool scan_agrees(const char *when, size_t idx, uint64_t entry,
			uint64_t cats)
{
	char got_s[96], want_s[96];
	uint64_t want, known;
	size_t i, used = 0;

	entry_categories(entry, &want, &known);
	if ((cats & known) == want)
		return true;
	for (i = 0; i <= ARRAY_SIZE(scan_rows); i++) {
		uint64_t c = i < ARRAY_SIZE(scan_rows) ? scan_rows[i].category :
			     PAGE_IS_PFNZERO;

		if (!((cats ^ want) & known & c))
			continue;
		used += snprintf(got_s + used, sizeof(got_s) - used, "%s%s %s",
				 used ? ", " : "",
				 i < ARRAY_SIZE(scan_rows) ? scan_rows[i].name :
				 "PFNZERO", cats & c ? "set" : "clear");
		if (used >= sizeof(got_s))
			break;
	}
	pagemap_describe(entry, want_s, sizeof(want_s));
	ksft_print_msg(
		"%s%spage %zu: PAGEMAP_SCAN categories 0x%llx disagree with pagemap entry %s: %s\n",
		when ? when : "", when ? ": " : "", idx,
		(unsigned long long)cats, want_s, got_s);
	return false;
}

/* What pagemap_pages_are() asks PAGEMAP_SCAN for */
static uint64_t scan_return_mask(void)
{
	uint64_t mask = SCAN_CATEGORIES;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(scan_rows); i++)
		if (scan_row_checked(&scan_rows[i]))
			mask |= scan_rows[i].category;
	return mask;
}

bool pagemap_pages_are(const char *when, const void *base, size_t first,
		       size_t npages, uint64_t set, uint64_t clear,
		       unsigned int max_diags)
{
	unsigned int diags = 0;
	uint64_t *cats = NULL;
	uint64_t entry;
	bool ok = true;
	size_t i;
	int ret;

	if (pagemap_scan_available(NULL)) {
		cats = calloc(npages, sizeof(*cats));
		ret = cats ? pagemap_scan_pages(base, first, npages,
						scan_return_mask(), cats) :
			     -ENOMEM;
		if (ret) {
			ksft_print_msg("%s%sPAGEMAP_SCAN: %s\n", when ? when : "",
				       when ? ": " : "", errno_name(-ret));
			free(cats);
			return false;
		}
	}
	for (i = first; i < first + npages; i++) {
		ret = pagemap_read(pagemap_fd,
				   (const char *)base + i * sys_pagesize(),
				   &entry);
		if (ret) {
			ksft_print_msg("%s%spage %zu: reading its pagemap entry: %s\n",
				       when ? when : "", when ? ": " : "", i,
				       errno_name(ret));
			free(cats);
			return false;
		}
		if (cats && !scan_agrees(when, i, entry, cats[i - first]))
			ok = false;
		if ((entry & set) == set && !(entry & clear))
			continue;
		ok = false;
		if (diags++ < max_diags)
			pagemap_entry_is(when, i, entry, set, clear);
	}
	free(cats);
	return ok;
}

int mincore_range(const void *addr, size_t len, unsigned char *vec)
{
	if (mincore((void *)addr, len, vec))
		return -errno;
	return 0;
}

int mincore_page(const void *addr, bool *resident)
{
	uintptr_t page = (uintptr_t)addr & ~(uintptr_t)(sys_pagesize() - 1);
	unsigned char vec = 0;
	int ret;

	ret = mincore_range((const void *)page, sys_pagesize(), &vec);
	if (!ret)
		*resident = vec & 1;
	return ret;
}

/* Is @line the header line of a VMA, and if so, which range does it cover? */
static bool smaps_vma_header(const char *line, unsigned long *start,
			     unsigned long *end)
{
	char perms[8];

	return sscanf(line, "%lx-%lx %7s ", start, end, perms) == 3;
}

/*
 * Copy the "@field:" line of the VMA that contains @addr into @line.
 * Returns 0, -ENOENT if no VMA contains @addr or the field is absent, or
 * another negative errno.  *@vma_kb, if not NULL, gets the VMA size in kB.
 */
static int smaps_vma_line(const void *addr, const char *field, char *line,
			  size_t len, unsigned long *vma_kb)
{
	size_t field_len = strlen(field);
	unsigned long start, end;
	bool in_vma = false;
	int ret = -ENOENT;
	FILE *fp;

	fp = fopen(SMAPS_PATH, "re");
	if (!fp)
		return -errno;

	while (fgets(line, len, fp)) {
		if (smaps_vma_header(line, &start, &end)) {
			if (in_vma)
				break;	/* field missing from our VMA */
			in_vma = (uintptr_t)addr >= start &&
				 (uintptr_t)addr < end;
			if (in_vma && vma_kb)
				*vma_kb = (end - start) / 1024;
			continue;
		}
		if (in_vma && !strncmp(line, field, field_len) &&
		    line[field_len] == ':') {
			ret = 0;
			break;
		}
	}
	fclose(fp);
	return ret;
}

int smaps_vma_field_kb(const void *addr, const char *field,
		       unsigned long *kb, unsigned long *vma_kb)
{
	char line[SMAPS_LINE_MAX];
	unsigned long value;
	int ret;

	ret = smaps_vma_line(addr, field, line, sizeof(line), vma_kb);
	if (ret)
		return ret;
	if (sscanf(line + strlen(field) + 1, "%lu", &value) != 1)
		return -EINVAL;
	*kb = value;
	return 0;
}

static bool has_word(const char *line, const char *word);

int smaps_vma_flag(const void *addr, const char *flag)
{
	char line[SMAPS_LINE_MAX];
	int ret;

	ret = smaps_vma_line(addr, "VmFlags", line, sizeof(line), NULL);
	if (ret)
		return ret;
	return has_word(line + strlen("VmFlags:"), flag);
}

long vmstat_read(const char *name)
{
	size_t name_len = strlen(name);
	char line[128];
	long value = -1;
	FILE *fp;

	fp = fopen("/proc/vmstat", "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp)) {
		if (!strncmp(line, name, name_len) && line[name_len] == ' ') {
			value = strtol(line + name_len + 1, NULL, 10);
			break;
		}
	}
	fclose(fp);
	return value;
}

/* Counter @disk of /proc/vmstat plus @zswap where there is one; -1 without @disk */
static long swap_counter(const char *disk, const char *zswap)
{
	long pages = vmstat_read(disk);
	long zpages = vmstat_read(zswap);

	if (pages < 0)
		return -1;
	return pages + (zpages > 0 ? zpages : 0);
}

long swap_writes(void)
{
	return swap_counter("pswpout", "zswpout");
}

long swap_reads(void)
{
	return swap_counter("pswpin", "zswpin");
}

int pageout_range(void *addr, size_t len, int retries,
		  struct pageout_stats *st)
{
	long want = len / sys_pagesize(), before, now = -1;
	int attempt, ret = -EAGAIN;

	before = swap_writes();
	if (before < 0)
		return -ENOENT;
	for (attempt = 1; attempt <= retries + 1; attempt++) {
		if (madvise(addr, len, MADV_PAGEOUT)) {
			ret = -errno;
			break;
		}
		now = swap_writes();
		if (now - before >= want) {
			ret = 0;
			break;
		}
		if (attempt <= retries)
			usleep(1000);
	}
	if (st) {
		st->attempts = attempt > retries + 1 ? retries + 1 : attempt;
		st->written = now < 0 ? 0 : now - before;
	}
	return ret;
}

const char *advice_name(int advice)
{
	switch (advice) {
	case MADV_WILLNEED:
		return "MADV_WILLNEED";
	case MADV_PAGEOUT:
		return "MADV_PAGEOUT";
	case MADV_POPULATE_READ:
		return "MADV_POPULATE_READ";
	case MADV_POPULATE_WRITE:
		return "MADV_POPULATE_WRITE";
	case MADV_HWPOISON:
		return "MADV_HWPOISON";
	default:
		return "advice";
	}
}

bool madvise_result_is(void *addr, size_t len, int advice, int want_err)
{
	int ret, err;

	errno = 0;
	ret = madvise(addr, len, advice);
	err = ret ? errno : 0;
	if (ret == (want_err ? -1 : 0) && err == want_err)
		return true;
	ksft_print_msg("madvise(%s) over 0x%zx bytes: got %d (%s), expected %s\n",
		       advice_name(advice), len, ret,
		       err ? errno_name(err) : "no error",
		       want_err ? errno_name(want_err) : "success");
	return false;
}

bool swap_present(void)
{
	char line[256];
	bool found = false;
	unsigned long kb;
	int lines = 0;
	FILE *fp;

	fp = fopen("/proc/swaps", "re");
	if (fp) {
		while (fgets(line, sizeof(line), fp))
			lines++;
		fclose(fp);
		/* the first line is the column header */
		return lines > 1;
	}

	fp = fopen("/proc/meminfo", "re");
	if (!fp)
		return false;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "SwapTotal: %lu kB", &kb) == 1) {
			found = kb > 0;
			break;
		}
	}
	fclose(fp);
	return found;
}

int thp_disable_range(void *addr, size_t len)
{
	if (madvise(addr, len, MADV_NOHUGEPAGE))
		return -errno;
	return 0;
}

int pin_to_current_cpu(void)
{
	cpu_set_t set;
	int cpu;

	cpu = sched_getcpu();
	if (cpu < 0)
		return -errno;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	return cpu;
}

int read_first_line(const char *path, char *buf, size_t len)
{
	FILE *fp;
	int ret = 0;

	if (!len)
		return -EINVAL;
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	if (fgets(buf, (int)len, fp))
		buf[strcspn(buf, "\n")] = '\0';
	else
		ret = ferror(fp) ? -EIO : -ENODATA;
	fclose(fp);
	return ret;
}

int write_knob(const char *path, const char *text)
{
	ssize_t len = strlen(text), ret;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = write(fd, text, len);
	if (ret < 0)
		err = -errno;
	else if (ret != len)
		err = -EIO;
	close(fd);
	return err;
}

size_t thp_pmd_size(void)
{
	char buf[64];
	size_t size;

	if (read_first_line(THP_SYSFS "hpage_pmd_size", buf, sizeof(buf)))
		return 0;
	size = strtoul(buf, NULL, 0);
	/* a power of two of at least two pages */
	if (size <= sys_pagesize() || (size & (size - 1)))
		return 0;
	return size;
}

long counter_read(const char *path)
{
	char buf[64];

	if (read_first_line(path, buf, sizeof(buf)))
		return -1;
	return strtol(buf, NULL, 10);
}

int huge_page_declined(const char *path, const char *name, long before)
{
	long after = path ? counter_read(path) : vmstat_read(name);

	if (before >= 0 && after > before)
		return skip("the kernel could not allocate a huge page (%s grew by %ld)",
			    name, after - before);
	ksft_print_msg(
		"no huge page was mapped and the kernel reports no huge page fallback (%s %ld)\n",
		name, after);
	return KSFT_FAIL;
}

int knob_set(struct knob *k, const char *path, const char *value)
{
	char buf[128], *open, *close, *cur = buf;
	int ret;

	if (!k->saved[0]) {
		ret = read_first_line(path, buf, sizeof(buf));
		if (ret)
			return ret;
		/* a knob without brackets ("1") shows just its value */
		open = strchr(buf, '[');
		close = open ? strchr(open, ']') : NULL;
		if (open && !close)
			return -EINVAL;
		if (open) {
			*close = '\0';
			cur = open + 1;
		}
		if (!*cur || strlen(cur) >= sizeof(k->saved))
			return -EINVAL;
		snprintf(k->saved, sizeof(k->saved), "%s", cur);
		snprintf(k->path, sizeof(k->path), "%s", path);
	}
	return write_knob(path, value);
}

void knob_restore(struct knob *k)
{
	int ret;

	if (!k->saved[0])
		return;
	ret = write_knob(k->path, k->saved);
	if (ret)
		ksft_print_msg("could not restore %s to %s: %s\n", k->path,
			       k->saved, errno_name(ret));
	k->saved[0] = '\0';
}

bool fsize_unlimited(char *why, size_t len)
{
	struct rlimit rl;

	/* a file size limit would make ftruncate() raise SIGXFSZ */
	signal(SIGXFSZ, SIG_IGN);
	if (getrlimit(RLIMIT_FSIZE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return true;
	rl.rlim_cur = rl.rlim_max;
	if (!setrlimit(RLIMIT_FSIZE, &rl) && rl.rlim_cur == RLIM_INFINITY)
		return true;
	snprintf(why, len, "RLIMIT_FSIZE limits file sizes to 0x%llx bytes",
		 (unsigned long long)rl.rlim_cur);
	return false;
}

off_t file_max_size(int fd)
{
	off_t lo = 0, hi = LLONG_MAX, mid;

	if (!ftruncate(fd, hi))
		return hi;
	if (errno != EFBIG && errno != EINVAL)
		return -errno;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (!ftruncate(fd, mid)) {
			lo = mid;
			continue;
		}
		if (errno != EFBIG && errno != EINVAL)
			return -errno;
		hi = mid;
	}
	if (ftruncate(fd, lo))
		return -errno;
	return lo;
}

int memfd_new(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int tmpfile_new(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

bool tmpfs_dir_usable(const char *dir)
{
	struct statfs sfs;
	bool ok;
	int fd;

	fd = tmpfile_new(dir);
	if (fd < 0)
		return false;
	ok = !fstatfs(fd, &sfs) && sfs.f_type == TMPFS_MAGIC;
	close(fd);
	return ok;
}

int tmpfs_find_dir(char *buf, size_t len)
{
	char line[PATH_MAX + 256];
	char dir[PATH_MAX], type[64];
	int ret = -ENOENT;
	FILE *fp;

	if (tmpfs_dir_usable("/dev/shm")) {
		snprintf(buf, len, "/dev/shm");
		return 0;
	}
	fp = fopen("/proc/self/mounts", "re");
	if (!fp)
		return ret;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%*s %4095s %63s", dir, type) != 2 ||
		    strcmp(type, "tmpfs"))
			continue;
		/* leave the kernel's own file systems alone */
		if (!strncmp(dir, "/sys/", 5) || !strncmp(dir, "/proc/", 6) ||
		    !tmpfs_dir_usable(dir))
			continue;
		snprintf(buf, len, "%s", dir);
		ret = 0;
		break;
	}
	fclose(fp);
	return ret;
}

ssize_t find_byte_mismatch(const void *buf, size_t len, unsigned char want)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != want)
			return (ssize_t)i;
	return -1;
}

unsigned char page_byte(size_t idx)
{
	unsigned char c = (unsigned char)(0x5a + idx * 17);

	return c ? c : 1;
}

void fill_pages(char *addr, size_t npages)
{
	size_t i;

	for (i = 0; i < npages; i++)
		memset(addr + i * sys_pagesize(), page_byte(i), sys_pagesize());
}

int pwrite_page(int fd, size_t idx)
{
	char *buf = malloc(sys_pagesize());
	ssize_t ret;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	memset(buf, page_byte(idx), sys_pagesize());
	ret = pwrite(fd, buf, sys_pagesize(), idx * sys_pagesize());
	if (ret < 0)
		err = -errno;
	else if ((size_t)ret != sys_pagesize())
		err = -EIO;
	free(buf);
	return err;
}

bool page_filled_with(const void *page, size_t idx, unsigned char want,
		      bool quiet)
{
	ssize_t off = find_byte_mismatch(page, sys_pagesize(), want);

	if (off < 0)
		return true;
	if (!quiet)
		ksft_print_msg("page %zu byte 0x%zx is 0x%02x, expected 0x%02x\n",
			       idx, (size_t)off,
			       ((const unsigned char *)page)[off], want);
	return false;
}

bool kernel_older_than(unsigned int major, unsigned int minor)
{
	unsigned int ma, mi;
	struct utsname uts;

	if (uname(&uts) || sscanf(uts.release, "%u.%u", &ma, &mi) != 2)
		return false;
	return ma < major || (ma == major && mi < minor);
}

/* Does @advice work on a written page of private anonymous memory? */
static bool advice_works_on_anon(int advice)
{
	size_t ps = sys_pagesize();
	bool ok;
	char *p;

	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return false;
	p[0] = 1;
	ok = !madvise(p, ps, advice);
	munmap(p, ps);
	return ok;
}

int setup_guard_install(void *addr, size_t len)
{
	bool anon;

	if (!madvise(addr, len, MADV_GUARD_INSTALL))
		return KSFT_PASS;
	if (errno != EINVAL)
		return setup_failed("madvise(MADV_GUARD_INSTALL)", errno);
	anon = advice_works_on_anon(MADV_GUARD_INSTALL);
	if (!anon && kernel_older_than(6, 13))
		return skip("guard regions: MADV_GUARD_INSTALL not supported (6.13+)");
	if (anon && kernel_older_than(6, 15))
		return skip(
			"guard regions: MADV_GUARD_INSTALL on shmem and file mappings not supported (6.15+)");
	ksft_print_msg(
		"setup: MADV_GUARD_INSTALL returns EINVAL on %s, on a kernel whose version has %s\n",
		anon ? "this mapping but works on private anonymous memory" :
		"private anonymous memory",
		anon ? "guard regions on shmem and file mappings (6.15+)" :
		"guard regions (6.13+)");
	return KSFT_FAIL;
}

static sigjmp_buf fault_jmp;
static siginfo_t fault_info;

static void fault_handler(int sig, siginfo_t *info, void *ucontext)
{
	(void)ucontext;
	fault_info = *info;
	siglongjmp(fault_jmp, sig);
}

int page_read_signal(const void *addr, siginfo_t *info)
{
	struct sigaction sa = { .sa_sigaction = fault_handler,
				.sa_flags = SA_SIGINFO };
	struct sigaction old_segv, old_bus;
	int sig;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	sig = sigsetjmp(fault_jmp, 1);
	if (!sig)
		__atomic_load_n((const char *)addr, __ATOMIC_RELAXED);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	if (sig && info)
		*info = fault_info;
	return sig;
}

bool page_read_faults(const void *addr)
{
	return page_read_signal(addr, NULL) == SIGSEGV;
}

void console_drain(void)
{
	fflush(stdout);
	fflush(stderr);
	tcdrain(STDOUT_FILENO);
}

void console_settle(void)
{
	console_drain();
	usleep(CONSOLE_SETTLE_US);
}

int softdirty_clear(void)
{
	return write_knob("/proc/self/clear_refs", "4");
}

bool softdirty_available(void)
{
	size_t len = sys_pagesize();
	char *addr;
	int ret;

	addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED)
		return false;
	ret = smaps_vma_flag(addr, "sd");
	munmap(addr, len);
	return ret > 0;
}

/* The text after "@field:" on its line of a /proc file; 0 or a negative errno */
static int proc_field_text(const char *path, const char *field, char *buf,
			   size_t len)
{
	size_t field_len = strlen(field);
	char line[SMAPS_LINE_MAX];
	int ret = -ENOENT;
	FILE *fp;

	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		if (strncmp(line, field, field_len) || line[field_len] != ':')
			continue;
		snprintf(buf, len, "%s", line + field_len + 1);
		ret = 0;
		break;
	}
	fclose(fp);
	return ret;
}

int proc_field_kb(const char *path, const char *field, unsigned long *kb)
{
	char text[64], *end;
	int ret;

	ret = proc_field_text(path, field, text, sizeof(text));
	if (ret)
		return ret;
	*kb = strtoul(text, &end, 10);
	return end == text ? -EINVAL : 0;
}

int smaps_sum_field_kb(const char *field, unsigned long *kb)
{
	size_t field_len = strlen(field);
	unsigned long start, end, value;
	char line[SMAPS_LINE_MAX];
	unsigned long sum = 0;
	bool found = false;
	FILE *fp;

	fp = fopen(SMAPS_PATH, "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		if (smaps_vma_header(line, &start, &end) ||
		    strncmp(line, field, field_len) || line[field_len] != ':')
			continue;
		if (sscanf(line + field_len + 1, "%lu", &value) != 1)
			continue;
		sum += value;
		found = true;
	}
	fclose(fp);
	if (!found)
		return -ENOENT;
	*kb = sum;
	return 0;
}

char skip_reason[SKIP_REASON_LEN];

int skip(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(skip_reason, sizeof(skip_reason), fmt, args);
	va_end(args);
	return KSFT_SKIP;
}

int setup_failed(const char *what, int err)
{
	ksft_print_msg("setup: %s failed: %s (%s)\n", what, errno_name(err),
		       strerror(err));
	return KSFT_FAIL;
}

int setup_fallocate(int fd, int mode, off_t off, off_t len)
{
	bool punch = mode & FALLOC_FL_PUNCH_HOLE;

	if (!fallocate(fd, mode, off, len))
		return KSFT_PASS;
	if (errno == EOPNOTSUPP)
		return skip("%s not supported",
			    punch ? "FALLOC_FL_PUNCH_HOLE" : "fallocate");
	return setup_failed(punch ? "fallocate(PUNCH_HOLE)" : "fallocate",
			    errno);
}

/* The tmpfs mounts of our own, unmounted by suite_end() */
static char mounts[4][PATH_MAX];
static size_t nr_mounts;

int mount_private_tmpfs(struct backend *b, const char * const *opts,
			size_t nr)
{
	static const char * const dirs[] = { "/mnt", "/tmp", "/dev/shm", "/dev" };
	static bool unshared;
	int err = -ENOENT;
	size_t i, j;

	if (geteuid() != 0) {
		snprintf(b->skip, sizeof(b->skip),
			 "needs root to mount a tmpfs (%s)", opts[0]);
		return -EPERM;
	}
	if (!unshared) {
		if (unshare(CLONE_NEWNS)) {
			err = -errno;
			snprintf(b->skip, sizeof(b->skip),
				 "unshare(CLONE_NEWNS): %s", errno_name(err));
			return err;
		}
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
			err = -errno;
			snprintf(b->skip, sizeof(b->skip),
				 "making / private: %s", errno_name(err));
			return err;
		}
		unshared = true;
	}
	for (i = 0; i < ARRAY_SIZE(dirs) && nr_mounts < ARRAY_SIZE(mounts); i++) {
		for (j = 0; j < nr; j++) {
			if (mount(program_invocation_short_name, dirs[i], "tmpfs",
				  MS_NOSUID | MS_NODEV, opts[j])) {
				err = -errno;
				continue;
			}
			if (tmpfs_dir_usable(dirs[i])) {
				snprintf(b->dir, sizeof(b->dir), "%s", dirs[i]);
				snprintf(mounts[nr_mounts++], PATH_MAX, "%s",
					 dirs[i]);
				b->mount_opts = opts[j];
				return 0;
			}
			umount2(dirs[i], MNT_DETACH);
		}
	}
	snprintf(b->skip, sizeof(b->skip), "cannot mount a tmpfs (%s): %s",
		 opts[0], errno_name(err));
	return err;
}

void backends_probe(struct backend *backends, size_t nr)
{
	static const char * const opts[] = { "size=64m,mode=0700" };
	struct region r;
	size_t i;
	int ret;

	for (i = 0; i < nr; i++) {
		struct backend *b = &backends[i];

		if (b->skip[0] || b->required)
			continue;
		switch (b->kind) {
		case MEM_MEMFD:
		case MEM_SYSV_SHM:
			ret = region_open(&r, b);
			if (!ret)
				ret = region_map(&r, 1, PROT_READ, 0);
			if (ret)
				snprintf(b->skip, sizeof(b->skip),
					 "%s failed: %s", r.failed,
					 errno_name(ret));
			region_close(&r);
			break;
		case MEM_TMPFS:
			if (b->dir[0] || !tmpfs_find_dir(b->dir, sizeof(b->dir)))
				break;
			if (b->mount_if_none && !mount_private_tmpfs(b, opts, 1))
				break;
			snprintf(b->skip, sizeof(b->skip),
				 "no writable tmpfs supporting O_TMPFILE found%s",
				 b->mount_if_none && geteuid() ?
				 " (run as root to mount one)" : "");
			break;
		default:
			break;
		}
	}
}

/* Fail a region_*() call: @call failed with errno; the region is closed */
static int region_failed(struct region *r, const char *call)
{
	int err = errno;

	r->failed = call;
	region_close(r);
	return -err;
}

int region_open(struct region *r, const struct backend *b)
{
	r->backend = b;
	r->kind = b->kind;
	r->addr = MAP_FAILED;
	r->npages = 0;
	r->len = 0;
	r->fd = -1;
	r->shmid = -1;
	r->failed = NULL;

	if (b->kind == MEM_MEMFD) {
		r->fd = memfd_create(program_invocation_short_name, MFD_CLOEXEC);
		if (r->fd < 0)
			return region_failed(r, "memfd_create");
	} else if (b->kind == MEM_TMPFS) {
		r->fd = tmpfile_new(b->dir);
		if (r->fd < 0)
			return region_failed(r, "open(O_TMPFILE)");
	}
	return 0;
}

int region_resize(struct region *r, size_t npages)
{
	if (ftruncate(r->fd, npages * sys_pagesize()))
		return region_failed(r, "ftruncate");
	return 0;
}

/*
 * Map @len bytes of @fd with @prot and @flags at an address aligned to
 * @align, so that each @align-sized folio can be mapped by a PMD.
 */
static void *mmap_aligned(size_t len, int prot, int flags, int fd,
			  size_t align)
{
	size_t span = len + align;
	uintptr_t start, aligned, end;
	char *area, *addr;
	int err;

	area = mmap(NULL, span, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED)
		return MAP_FAILED;
	start = (uintptr_t)area;
	aligned = (start + align - 1) & ~(uintptr_t)(align - 1);
	addr = mmap((void *)aligned, len, prot, flags | MAP_FIXED, fd, 0);
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

/* Attach a SysV segment of r->len bytes, removed once it is detached */
static int region_attach(struct region *r, int prot)
{
	r->shmid = shmget(IPC_PRIVATE, r->len, IPC_CREAT | 0600);
	if (r->shmid < 0)
		return region_failed(r, "shmget");
	r->addr = shmat(r->shmid, NULL, prot & PROT_WRITE ? 0 : SHM_RDONLY);
	if (r->addr == (void *)-1) {
		r->addr = MAP_FAILED;
		return region_failed(r, "shmat");
	}
	shmctl(r->shmid, IPC_RMID, NULL);
	r->shmid = -1;
	return 0;
}

int region_map(struct region *r, size_t npages, int prot, int flags)
{
	const struct backend *b = r->backend;
	struct stat st;
	int ret;

	r->npages = npages;
	r->len = npages * sys_pagesize();
	if (r->fd >= 0) {
		if (fstat(r->fd, &st))
			return region_failed(r, "fstat");
		if (st.st_size < (off_t)r->len) {
			ret = region_resize(r, npages);
			if (ret)
				return ret;
		}
	}
	if (r->kind == MEM_SYSV_SHM) {
		ret = region_attach(r, prot);
		if (ret)
			return ret;
	} else {
		if (!flags)
			flags = r->kind == MEM_PRIVATE_ANON ? MAP_PRIVATE :
				MAP_SHARED;
		if (r->fd < 0)
			flags |= MAP_ANONYMOUS;
		if (b->huge_size)
			r->addr = mmap_aligned(r->len, prot, flags, r->fd,
					       b->huge_size);
		else
			r->addr = mmap(NULL, r->len, prot, flags, r->fd, 0);
		if (r->addr == MAP_FAILED)
			return region_failed(r, "mmap");
	}
	if (!b->huge_size) {
		/* one pte per page: no THP, whatever the system default */
		thp_disable_range(r->addr, r->len);
	} else if (madvise(r->addr, r->len, MADV_HUGEPAGE)) {
		/* huge=always needs no advice; a failure is only worth a note */
		ksft_print_msg("madvise(MADV_HUGEPAGE): %s\n", errno_name(errno));
	}
	return 0;
}

int region_setup(struct region *r, size_t npages)
{
	int ret = region_map(r, npages, PROT_READ | PROT_WRITE, 0);

	return ret ? setup_failed(r->failed, -ret) : KSFT_PASS;
}

void region_unmap(struct region *r)
{
	/* shmdt() finds a segment region_move() moved at its new place */
	if (r->addr != MAP_FAILED && r->kind == MEM_SYSV_SHM &&
	    !shmdt(r->addr))
		r->addr = MAP_FAILED;
	if (r->addr != MAP_FAILED)
		munmap(r->addr, r->len);
	r->addr = MAP_FAILED;
}

void region_close(struct region *r)
{
	region_unmap(r);
	if (r->fd >= 0)
		close(r->fd);
	if (r->shmid >= 0)
		shmctl(r->shmid, IPC_RMID, NULL);
	r->fd = -1;
	r->shmid = -1;
}

int region_move(struct region *r)
{
	void *area, *addr;
	int err;

	area = mmap(NULL, r->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	if (area == MAP_FAILED)
		return -errno;
	addr = mremap(r->addr, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED,
		      area);
	if (addr == MAP_FAILED) {
		err = errno;
		munmap(area, r->len);
		return -err;
	}
	r->addr = addr;
	return 0;
}

void region_write(const struct region *r, size_t idx)
{
	memset(region_page(r, idx), page_byte(idx), sys_pagesize());
}

bool region_intact(const struct region *r, size_t idx)
{
	return page_filled_with(region_page(r, idx), idx, page_byte(idx),
				false);
}

unsigned long region_smaps_kb(const struct region *r, const char *field)
{
	unsigned long kb = 0;

	smaps_vma_field_kb(r->addr, field, &kb, NULL);
	return kb;
}

int region_pageout(const struct region *r, size_t first, size_t npages)
{
	return setup_pageout(region_page(r, first), npages * sys_pagesize());
}

int region_written_paged_out(struct region *r, int (*written)(struct region *r),
			     size_t first, size_t npages)
{
	int ret;

	if (!swap_present())
		return skip("no swap configured");
	ret = written(r);
	if (ret)
		return ret;
	return region_pageout(r, first, npages ? npages : r->npages - first);
}

int setup_pageout(void *addr, size_t len)
{
	struct pageout_stats st = { 0 };
	unsigned long swap_kb = 0;
	int ret;

	if (!swap_present())
		return skip("no swap configured");
	ret = pageout_range(addr, len, PAGEOUT_RETRIES, &st);
	if (ret == -EINVAL && !advice_works_on_anon(MADV_PAGEOUT))
		return skip("kernel lacks MADV_PAGEOUT (EINVAL on private anonymous memory too)");
	if (ret == -EINVAL) {
		ksft_print_msg(
			"setup: MADV_PAGEOUT returns EINVAL on this mapping but works on private anonymous memory\n");
		return KSFT_FAIL;
	}
	/*
	 * SwapFree is no substitute: swap slots are taken from the swap
	 * device in batches, so it need not move when one page goes out.
	 */
	if (ret == -ENOENT)
		return skip(
			"kernel lacks VM event counters (no pswpout in /proc/vmstat) to confirm a page-out");
	if (ret == -EAGAIN) {
		smaps_vma_field_kb(addr, "Swap", &swap_kb, NULL);
		ksft_print_msg(
			"setup: MADV_PAGEOUT of %zu pages wrote %ld to swap (/proc/vmstat pswpout+zswpout) in %d attempts; smaps Swap: %lu kB\n",
			len / sys_pagesize(), st.written, st.attempts,
			swap_kb);
		return KSFT_FAIL;
	}
	if (ret)
		return setup_failed("MADV_PAGEOUT", -ret);
	if (st.attempts > 1)
		ksft_print_msg("page-out of %zu pages confirmed after %d attempts\n",
			       len / sys_pagesize(), st.attempts);
	return KSFT_PASS;
}

int pagemap_fd = -1;

int suite_pagemap_open(void)
{
	pagemap_fd = pagemap_open();
	return pagemap_fd < 0 ? pagemap_fd : 0;
}

void env_banner(const struct backend *backends, size_t nr,
		void (*extra)(void))
{
	const char *why = "";
	struct utsname uts;
	char buf[128];
	size_t i;
	int cpu;

	if (!uname(&uts))
		ksft_print_msg("kernel %s %s\n", uts.release, uts.machine);
	ksft_print_msg("page size %zu\n", sys_pagesize());
	if (!read_first_line("/sys/kernel/mm/transparent_hugepage/enabled",
			     buf, sizeof(buf)))
		ksft_print_msg("THP enabled: %s\n", buf);
	if (!read_first_line("/sys/kernel/mm/transparent_hugepage/shmem_enabled",
			     buf, sizeof(buf)))
		ksft_print_msg("THP shmem_enabled: %s\n", buf);
	ksft_print_msg("swap: %s\n", swap_present() ? "active" : "none");
	if (pagemap_scan_available(&why))
		ksft_print_msg(
			"PAGEMAP_SCAN: cross-checks PRESENT, SWAPPED, FILE, SOFT_DIRTY%s of every pagemap assertion; PFNZERO against /proc/kpageflags: %s\n",
			pagemap_scan_has(PAGE_IS_GUARD) ? " and GUARD" :
			" (no PAGE_IS_GUARD)",
			access("/proc/kpageflags", R_OK) ? "no (not readable)" :
			"yes (where the PFN is visible)");
	else
		ksft_print_msg("PAGEMAP_SCAN: not available (%s)\n", why);
	if (extra)
		extra();

	cpu = pin_to_current_cpu();
	if (cpu < 0)
		ksft_print_msg("could not pin to a CPU: %s\n", errno_name(cpu));
	else
		ksft_print_msg("pinned to CPU %d\n", cpu);

	for (i = 0; i < nr; i++) {
		const struct backend *b = &backends[i];

		if (b->kind != MEM_TMPFS || !b->dir[0])
			continue;
		if (b->mount_opts)
			ksft_print_msg("mounted a private tmpfs on %s (%s)\n",
				       b->dir, b->mount_opts);
		else
			ksft_print_msg("tmpfs files in %s\n", b->dir);
	}
}

void suite_release(void)
{
	size_t i;

	for (i = 0; i < nr_mounts; i++)
		umount2(mounts[i], MNT_DETACH);
	nr_mounts = 0;
	if (pagemap_fd >= 0)
		close(pagemap_fd);
	pagemap_fd = -1;
	if (kpageflags_fd >= 0)
		close(kpageflags_fd);
	kpageflags_fd = -1;
}

unsigned int subtests_plan(const struct subtest *tests, size_t nr_tests,
			   size_t nr_backends)
{
	unsigned int plan = 0;
	size_t i, b;

	for (i = 0; i < nr_tests; i++)
		for (b = 0; b < nr_backends; b++)
			if (tests[i].on & (1U << b))
				plan++;
	return plan;
}

int kpageflags_read(uint64_t pfn, uint64_t *flags)
{
	ssize_t ret;
	int fd, err = 0;

	fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = pread(fd, flags, sizeof(*flags), pfn * sizeof(*flags));
	if (ret < 0)
		err = -errno;
	else if (ret != sizeof(*flags))
		err = -EIO;
	close(fd);
	return err;
}

bool capable_sys_admin(void)
{
	char text[64];

	if (proc_field_text("/proc/self/status", "CapEff", text, sizeof(text)))
		return false;
	return strtoull(text, NULL, 16) & (1ULL << CAP_SYS_ADMIN_BIT);
}

bool memory_failure_usable(char *why, size_t len)
{
	char val[16];
	int ret;

	ret = read_first_line(MEMORY_FAILURE_RECOVERY, val, sizeof(val));
	if (ret == -ENOENT) {
		snprintf(why, len, "MADV_HWPOISON: no CONFIG_MEMORY_FAILURE (no %s)",
			 MEMORY_FAILURE_RECOVERY);
		return false;
	}
	if (ret) {
		snprintf(why, len, "MADV_HWPOISON: reading %s: %s",
			 MEMORY_FAILURE_RECOVERY, errno_name(ret));
		return false;
	}
	if (strcmp(val, "1")) {
		snprintf(why, len,
			 "MADV_HWPOISON: vm.memory_failure_recovery is %s, a poisoned page would panic the kernel",
			 val);
		return false;
	}
	if (!capable_sys_admin()) {
		snprintf(why, len, "MADV_HWPOISON: needs CAP_SYS_ADMIN");
		return false;
	}
	return true;
}

long hardware_corrupted_kb(void)
{
	unsigned long kb;

	return proc_field_kb("/proc/meminfo", "HardwareCorrupted", &kb) ?
	       -1 : (long)kb;
}

static siginfo_t mce_info;
static bool mce_seen;

/* Note a SIGBUS and return: the one MADV_HWPOISON sends comes after the call */
static void mce_handler(int sig, siginfo_t *info, void *ucontext)
{
	(void)sig;
	(void)ucontext;
	mce_info = *info;
	__atomic_store_n(&mce_seen, true, __ATOMIC_RELAXED);
}

int hwpoison_inject(void *addr, size_t len, siginfo_t *sigbus)
{
	struct sigaction sa = { .sa_sigaction = mce_handler,
				.sa_flags = SA_SIGINFO };
	struct sigaction old;
	int ret;

	sigemptyset(&sa.sa_mask);
	__atomic_store_n(&mce_seen, false, __ATOMIC_RELAXED);
	console_drain();
	sigaction(SIGBUS, &sa, &old);
	ret = madvise(addr, len, MADV_HWPOISON) ? -errno : 0;
	sigaction(SIGBUS, &old, NULL);
	console_settle();
	if (__atomic_load_n(&mce_seen, __ATOMIC_RELAXED))
		*sigbus = mce_info;
	else
		memset(sigbus, 0, sizeof(*sigbus));
	return ret;
}

const char *siginfo_str(const siginfo_t *si, char *buf, size_t len)
{
	const char *code = "";

	if (si->si_signo == SIGBUS)
		code = si->si_code == BUS_MCEERR_AR ? " (BUS_MCEERR_AR)" :
		       si->si_code == BUS_MCEERR_AO ? " (BUS_MCEERR_AO)" : "";
	if (si->si_signo == SIGBUS || si->si_signo == SIGSEGV)
		snprintf(buf, len, "%s si_code=%d%s si_addr=%p si_addr_lsb=%d",
			 si->si_signo == SIGBUS ? "SIGBUS" : "SIGSEGV",
			 si->si_code, code, si->si_addr, (int)si->si_addr_lsb);
	else
		snprintf(buf, len, "signal %d si_code=%d", si->si_signo,
			 si->si_code);
	return buf;
}

int pfns_in_swap_cache(const uint64_t *pfns, size_t n, int *writeback)
{
	uint64_t flags;
	int ret, cached = 0, busy = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		ret = kpageflags_read(pfns[i], &flags);
		if (ret)
			return ret;
		if (!(flags & (1ULL << KPF_SWAPCACHE)))
			continue;
		cached++;
		busy += !!(flags & (1ULL << KPF_WRITEBACK));
	}
	if (writeback)
		*writeback = busy;
	return cached;
}

void print_pfns_in_swap_cache(const uint64_t *pfns, size_t n)
{
	uint64_t flags;
	char buf[96];
	size_t i;

	for (i = 0; i < n; i++)
		if (!kpageflags_read(pfns[i], &flags) &&
		    (flags & (1ULL << KPF_SWAPCACHE)))
			ksft_print_msg("page %zu: kpageflags %s\n", i,
				       kpageflags_str(flags, buf, sizeof(buf)));
}

const char *kpageflags_str(uint64_t flags, char *buf, size_t len)
{
	snprintf(buf, len, "0x%llx%s%s%s%s", (unsigned long long)flags,
		 flags & (1ULL << KPF_SWAPCACHE) ? " SWAPCACHE" : "",
		 flags & (1ULL << KPF_WRITEBACK) ? " WRITEBACK" : "",
		 flags & (1ULL << KPF_BUDDY) ? " BUDDY" : "",
		 flags & (1ULL << KPF_NOPAGE) ? " NOPAGE" : "");
	return buf;
}

/* cgroup v2: child cgroups whose memory.reclaim evicts the swap cache */

char memcg_home[PATH_MAX];
char memcg_skip[256];
/* whether memcg_probe() enabled the memory controller for the children */
static bool memcg_enabled_memory;
static unsigned int memcg_seq;

/* Is @word one of the space-separated words of @line? */
static bool has_word(const char *line, const char *word)
{
	size_t len = strlen(word);
	const char *p = line;

	while ((p = strstr(p, word))) {
		if ((p == line || p[-1] == ' ') &&
		    (p[len] == '\0' || p[len] == ' ' || p[len] == '\n'))
			return true;
		p += len;
	}
	return false;
}

/* Mount point of the cgroup v2 hierarchy and our cgroup in it */
static bool find_cgroup2(char *mnt, size_t mnt_len, char *path,
			 size_t path_len)
{
	char line[PATH_MAX + 256], dir[PATH_MAX], type[64];
	bool found = false;
	FILE *fp;

	fp = fopen("/proc/self/mounts", "re");
	if (!fp)
		return false;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%*s %4095s %63s", dir, type) == 2 &&
		    !strcmp(type, "cgroup2")) {
			snprintf(mnt, mnt_len, "%s", dir);
			found = true;
			break;
		}
	}
	fclose(fp);
	if (!found)
		return false;

	found = false;
	fp = fopen("/proc/self/cgroup", "re");
	if (!fp)
		return false;
	while (fgets(line, sizeof(line), fp)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line + 3) < path_len) {
			snprintf(path, path_len, "%s", line + 3);
			found = true;
		}
		break;
	}
	fclose(fp);
	return found;
}

static int memcg_path(char *buf, size_t len, const char *dir, const char *file)
{
	int n = snprintf(buf, len, "%s/%s", dir, file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int memcg_create(char *dir, size_t len)
{
	int n;

	if (memcg_skip[0])
		return -ENOENT;
	n = snprintf(dir, len, "%s/%s.%d.%u", memcg_home,
		     program_invocation_short_name, getpid(),
		     memcg_seq++);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (mkdir(dir, 0755))
		return -errno;
	return 0;
}

int memcg_enter(const char *dir)
{
	char path[PATH_MAX + 32], pid[32];
	int ret;

	ret = memcg_path(path, sizeof(path), dir, "cgroup.procs");
	if (ret)
		return ret;
	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_knob(path, pid);
}

void memcg_remove(const char *dir)
{
	int i;

	/* a cgroup that just lost its last process may be busy briefly */
	for (i = 0; i < 100; i++) {
		if (!rmdir(dir) || errno == ENOENT)
			return;
		if (errno != EBUSY)
			break;
		usleep(10000);
	}
	ksft_print_msg("could not remove cgroup %s: %s\n", dir,
		       errno_name(errno));
}

int memcg_reclaim(const char *dir)
{
	char path[PATH_MAX + 32];
	int ret;

	ret = memcg_path(path, sizeof(path), dir, "memory.reclaim");
	if (!ret)
		ret = write_knob(path, RECLAIM_REQUEST);
	/* EAGAIN: less than requested could be reclaimed, as expected */
	return ret == -EAGAIN ? 0 : ret;
}

void memcg_unavailable(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	vsnprintf(memcg_skip, sizeof(memcg_skip), fmt, args);
	va_end(args);
}

void memcg_probe(void)
{
	char mnt[PATH_MAX], path[PATH_MAX], file[PATH_MAX + 96];
	char line[512], dir[PATH_MAX + 64];
	int ret;

	if (!find_cgroup2(mnt, sizeof(mnt), path, sizeof(path)))
		return memcg_unavailable("no cgroup v2 hierarchy mounted");
	if (snprintf(memcg_home, sizeof(memcg_home), "%s%s", mnt,
		     strcmp(path, "/") ? path : "") >= (int)sizeof(memcg_home))
		return memcg_unavailable("cgroup path too long");

	memcg_path(file, sizeof(file), memcg_home, "cgroup.controllers");
	ret = read_first_line(file, line, sizeof(line));
	if (ret == -ENODATA)
		line[0] = '\0';
	else if (ret)
		return memcg_unavailable("reading %s: %s", file, errno_name(ret));
	if (!has_word(line, "memory"))
		return memcg_unavailable(
			"cgroup v2 memory controller not available in %s (cgroup.controllers: \"%s\")",
			memcg_home, line);

	memcg_path(file, sizeof(file), memcg_home, "cgroup.subtree_control");
	ret = read_first_line(file, line, sizeof(line));
	if (ret == -ENODATA)
		line[0] = '\0';
	else if (ret)
		return memcg_unavailable("reading %s: %s", file, errno_name(ret));
	if (!has_word(line, "memory")) {
		ret = write_knob(file, "+memory");
		if (ret)
			return memcg_unavailable("enabling the memory controller in %s: %s",
					      file, errno_name(ret));
		memcg_enabled_memory = true;
	}

	ret = memcg_create(dir, sizeof(dir));
	if (ret)
		return memcg_unavailable("creating a cgroup in %s: %s", memcg_home,
				      errno_name(ret));
	memcg_path(file, sizeof(file), dir, "memory.reclaim");
	if (access(file, W_OK))
		memcg_unavailable("no memory.reclaim in cgroup v2: %s",
			       errno_name(errno));
	memcg_remove(dir);
}

void memcg_probe_swap(void)
{
	if (swap_present())
		memcg_probe();
	else
		memcg_unavailable("no swap");
}

void memcg_print_eviction(void)
{
	if (memcg_skip[0])
		ksft_print_msg("no swap cache eviction: %s\n", memcg_skip);
	else
		ksft_print_msg("swap cache eviction through child cgroups of %s\n",
			       memcg_home);
}

void memcg_cleanup(void)
{
	char file[PATH_MAX + 32];

	/* leave the controller as we found it, if nothing else needs it */
	if (memcg_enabled_memory &&
	    !memcg_path(file, sizeof(file), memcg_home, "cgroup.subtree_control"))
		write_knob(file, "-memory");
}

char uffd_skip[160];
uint64_t uffd_features;

void uffd_print_features(void)
{
	if (uffd_skip[0])
		ksft_print_msg("%s\n", uffd_skip);
	else
		ksft_print_msg("userfaultfd features 0x%llx\n",
			       (unsigned long long)uffd_features);
}

int uffd_new(void)
{
	int flags = O_CLOEXEC | O_NONBLOCK;
	int fd, dev, err;

	fd = syscall(__NR_userfaultfd, flags);
	if (fd >= 0)
		return fd;
	err = errno;
	if (err != EPERM)
		return -err;
	/* vm.unprivileged_userfaultfd=0 still allows user-mode faults */
	fd = syscall(__NR_userfaultfd, flags | UFFD_USER_MODE_ONLY);
	if (fd >= 0)
		return fd;
	/* and /dev/userfaultfd (6.1+) its users */
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -err;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
	if (fd < 0)
		fd = -errno;
	close(dev);
	return fd;
}

void uffd_probe_features(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = uffd_new();

	if (fd < 0) {
		snprintf(uffd_skip, sizeof(uffd_skip),
			 "userfaultfd not available: %s", errno_name(fd));
		return;
	}
	/* with no feature requested, UFFDIO_API reports all it supports */
	if (ioctl(fd, UFFDIO_API, &api))
		snprintf(uffd_skip, sizeof(uffd_skip), "UFFDIO_API failed: %s",
			 errno_name(errno));
	else
		uffd_features = api.features;
	close(fd);
}

/*
 * uffd_wp_register(); with @reg_err, a failing UFFDIO_REGISTER is not
 * printed but its errno goes to *@reg_err, with KSFT_FAIL.
 */
static int wp_register(uint64_t features, const char *feature_name,
		       void *addr, size_t len, int *fdp, int *reg_err)
{
	struct uffdio_register reg = { 0 };
	struct uffdio_api api = { .api = UFFD_API };
	int fd, err;

	if (uffd_skip[0])
		return skip("%s", uffd_skip);
	if ((uffd_features & features) != features)
		return skip("userfaultfd lacks %s (UFFDIO_API features 0x%llx)",
			    feature_name, (unsigned long long)uffd_features);
	fd = uffd_new();
	if (fd < 0)
		return setup_failed("userfaultfd", -fd);
	api.features = features;
	if (ioctl(fd, UFFDIO_API, &api)) {
		err = errno;
		close(fd);
		return setup_failed("UFFDIO_API", err);
	}
	reg.range.start = (uintptr_t)addr;
	reg.range.len = len;
	reg.mode = UFFDIO_REGISTER_MODE_WP;
	if (ioctl(fd, UFFDIO_REGISTER, &reg)) {
		err = errno;
		close(fd);
		if (!reg_err)
			return setup_failed("UFFDIO_REGISTER(MODE_WP)", err);
		*reg_err = err;
		return KSFT_FAIL;
	}
	*fdp = fd;
	return KSFT_PASS;
}

int uffd_wp_register(uint64_t features, const char *feature_name,
		     void *addr, size_t len, int *fdp)
{
	return wp_register(features, feature_name, addr, len, fdp, NULL);
}

int uffd_wp_register_region(const struct region *r, int *fdp)
{
	int ret, err = 0;

	if (r->kind == MEM_PRIVATE_ANON)
		ret = wp_register(UFFD_FEATURE_PAGEFAULT_FLAG_WP,
				  "UFFD_FEATURE_PAGEFAULT_FLAG_WP", r->addr,
				  r->len, fdp, &err);
	else
		ret = wp_register(UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
				  "UFFD_FEATURE_WP_HUGETLBFS_SHMEM", r->addr,
				  r->len, fdp, &err);
	if (!err)
		return ret;
	/* anonymous, shmem and hugetlb VMAs only; shmat() maps with shm_vm_ops */
	if (err == EINVAL && r->kind == MEM_SYSV_SHM)
		return skip("userfaultfd does not take SysV shm (UFFDIO_REGISTER: EINVAL)");
	return setup_failed("UFFDIO_REGISTER(MODE_WP)", err);
}

int uffd_wp_protect(int fd, void *addr, size_t len)
{
	struct uffdio_writeprotect wp = { 0 };

	wp.range.start = (uintptr_t)addr;
	wp.range.len = len;
	wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp))
		return setup_failed("UFFDIO_WRITEPROTECT", errno);
	return KSFT_PASS;
}

int uffd_wp_unprotect(int fd, void *addr, size_t len)
{
	struct uffdio_writeprotect wp = { 0 };

	wp.range.start = (uintptr_t)addr;
	wp.range.len = len;
	return ioctl(fd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

struct wp_writer {
	char *addr;
	char byte;
	int done_fd;
};

static void *wp_writer_fn(void *arg)
{
	struct wp_writer *w = arg;
	char c = 0;

	__atomic_store_n(w->addr, w->byte, __ATOMIC_RELAXED);
	if (write(w->done_fd, &c, 1) != 1)
		ksft_print_msg("writer thread: write to its pipe: %s\n",
			       errno_name(errno));
	return NULL;
}

/*
 * One message read from the userfaultfd @fd while the writer of @page
 * waits: a write-protect fault on @page sets *@event; anything else is
 * printed and makes the result -EPROTO.  Either way @page is unprotected,
 * which wakes the writer.
 */
static int wp_serve_one(int fd, char *page, bool *event)
{
	struct uffd_msg msg;
	uint64_t flags;
	ssize_t n;
	int ret = 0;

	n = read(fd, &msg, sizeof(msg));
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n != sizeof(msg)) {
		ksft_print_msg("read(userfaultfd) returned %zd (%s)\n", n,
			       n < 0 ? errno_name(errno) : "short");
		ret = -EIO;
	} else if (msg.event != UFFD_EVENT_PAGEFAULT ||
		   msg.arg.pagefault.address != (uintptr_t)page ||
		   !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP)) {
		flags = msg.event == UFFD_EVENT_PAGEFAULT ?
			msg.arg.pagefault.flags : 0;
		ksft_print_msg(
			"userfaultfd message: event 0x%x address 0x%llx flags 0x%llx; expected a write-protect fault (UFFD_PAGEFAULT_FLAG_WP) at %p\n",
			msg.event,
			(unsigned long long)msg.arg.pagefault.address,
			(unsigned long long)flags, page);
		ret = -EPROTO;
	} else {
		*event = true;
	}
	if (uffd_wp_unprotect(fd, page, sys_pagesize()))
		ksft_print_msg("UFFDIO_WRITEPROTECT mode 0: %s\n",
			       errno_name(errno));
	return ret;
}

int uffd_write_catching_wp(int fd, void *addr, char byte, bool *event)
{
	char *page = (char *)((uintptr_t)addr & ~(uintptr_t)(sys_pagesize() - 1));
	struct wp_writer w = { .addr = addr, .byte = byte };
	struct pollfd pfd[2];
	pthread_t thread;
	int pipefd[2];
	int ret = 0, err;

	*event = false;
	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	w.done_fd = pipefd[1];
	err = pthread_create(&thread, NULL, wp_writer_fn, &w);
	if (err) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -err;
	}
	pfd[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
	/* until the writer says its write is done: no time limit of our own */
	while (!pfd[1].revents) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			/* let a writer waiting on a fault go on */
			uffd_wp_unprotect(fd, page, sys_pagesize());
			break;
		}
		if (pfd[0].revents & POLLIN) {
			err = wp_serve_one(fd, page, event);
			ret = ret ? ret : err;
		} else if (pfd[0].revents) {
			ksft_print_msg("poll(userfaultfd): revents 0x%x\n",
				       pfd[0].revents);
			ret = ret ? ret : -EIO;
			uffd_wp_unprotect(fd, page, sys_pagesize());
			pfd[0].fd = -1;
		}
	}
	pthread_join(thread, NULL);
	close(pipefd[0]);
	close(pipefd[1]);
	return ret;
}

void softdirty_uffd_environment(void)
{
	ksft_print_msg("soft-dirty: %s\n",
		       softdirty_available() ? "supported" : "not supported");
	uffd_print_features();
}

/* Page views */

const char *view_diag_prefix = "";

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned char pattern_byte(size_t idx)
{
	unsigned char c = (unsigned char)(idx * 131 + 7);

	return c ? c : 0xa5;
}

void pattern_fill(char *page, size_t idx)
{
	uint64_t head = PATTERN_MAGIC ^ idx, tail = ~(uint64_t)idx;
	size_t ps = sys_pagesize();

	memset(page, pattern_byte(idx), ps);
	memcpy(page, &head, sizeof(head));
	memcpy(page + ps - sizeof(tail), &tail, sizeof(tail));
}

void region_fill(const struct region *r)
{
	size_t i;

	for (i = 0; i < r->npages; i++)
		pattern_fill(region_page(r, i), i);
}

bool check_page_pattern(const struct region *r, size_t idx,
			struct view_stats *st)
{
	const unsigned char *page = (unsigned char *)region_page(r, idx);
	static unsigned char *ref;
	size_t ps = sys_pagesize(), off;
	uint64_t head;

	if (!ref)
		ref = malloc(ps);
	if (!ref) {
		st->failed++;
		ksft_print_msg("%spage %zu: no memory for its pattern\n",
			       view_diag_prefix, idx);
		return false;
	}
	pattern_fill((char *)ref, idx);
	if (!memcmp(page, ref, ps))
		return true;

	st->failed++;
	if (st->diags++ >= VIEW_MAX_DIAGS)
		return false;
	for (off = 0; off < ps && page[off] == ref[off];)
		off++;
	memcpy(&head, page, sizeof(head));
	ksft_print_msg(
		"%spage %zu: content differs at byte 0x%zx: 0x%02x, expected 0x%02x; first word 0x%016llx (pattern of page %llu)\n",
		view_diag_prefix, idx, off, off < ps ? page[off] : 0,
		off < ps ? ref[off] : 0, (unsigned long long)head,
		(unsigned long long)(head ^ PATTERN_MAGIC));
	return false;
}

void observe_page(const struct region *r, size_t idx, struct page_view *v)
{
	char *addr = region_page(r, idx);
	off_t off = (off_t)(idx * sys_pagesize());
	bool resident;
	int ret;

	v->pme = 0;
	v->pm_err = pagemap_read(pagemap_fd, addr, &v->pme);
	ret = mincore_page(addr, &resident);
	v->mincore = ret ? ret : resident;
	v->seek = -1;
	v->seek_err = 0;
	if (r->fd >= 0) {
		v->seek = lseek(r->fd, off, SEEK_DATA);
		if (v->seek < 0)
			v->seek_err = errno;
	}
}

void print_view(size_t idx, const char *what, const struct page_view *v)
{
	char pm[128], seek[48];

	if (v->pm_err)
		snprintf(pm, sizeof(pm), "read failed (%s)",
			 errno_name(v->pm_err));
	else
		pagemap_describe(v->pme, pm, sizeof(pm));
	if (v->seek < 0 && !v->seek_err)
		snprintf(seek, sizeof(seek), "n/a");
	else
		seek_str(v->seek, v->seek_err, seek, sizeof(seek));

	ksft_print_msg("%spage %zu: %s: pagemap %s, mincore %s, SEEK_DATA from 0x%zx: %s\n",
		       view_diag_prefix, idx, what, pm,
		       v->mincore < 0 ? errno_name(v->mincore) :
		       v->mincore ? "1" : "0", idx * sys_pagesize(), seek);
}

static void append(char *buf, size_t len, const char *what)
{
	size_t used = strlen(buf);

	snprintf(buf + used, len - used, "%s%s", used ? ", " : "", what);
}

bool check_page_view(const struct region *r, size_t idx, unsigned int req,
		     struct view_stats *st)
{
	bool populated, present, resident, data, visible;
	struct page_view v;
	char what[160] = "";

	observe_page(r, idx, &v);
	populated = !v.pm_err && pagemap_entry_is_populated(v.pme);
	present = !v.pm_err && pagemap_entry_has(v.pme, PME_PRESENT);
	resident = v.mincore == 1;
	data = r->fd >= 0 && v.seek == (off_t)(idx * sys_pagesize());

	st->pages++;
	st->present += present;
	st->swap += !v.pm_err && pagemap_entry_has(v.pme, PME_SWAP);
	st->none += !v.pm_err && pagemap_entry_is_none(v.pme);
	st->resident += resident;
	st->seek_data += data;

	/* private memory has only pagemap; shmem has all three */
	visible = populated || (r->fd >= 0 && (resident || data));
	if (!visible)
		append(what, sizeof(what), "found by no interface");
	if ((req & REQ_PRESENT) && !present)
		append(what, sizeof(what), "not PRESENT");
	if ((req & REQ_PM_NONE) && (v.pm_err || !pagemap_entry_is_none(v.pme)))
		append(what, sizeof(what), "pagemap entry not none");
	if ((req & REQ_RESIDENT) && !resident)
		append(what, sizeof(what), "not resident");
	if ((req & REQ_SEEK_DATA) && !data)
		append(what, sizeof(what), "missed by SEEK_DATA");
	if (v.pm_err)
		append(what, sizeof(what), "pagemap read failed");
	if (v.mincore < 0)
		append(what, sizeof(what), "mincore failed");
	if (!what[0])
		return true;

	st->failed++;
	if (st->diags++ < VIEW_MAX_DIAGS)
		print_view(idx, what, &v);
	return false;
}

void print_view_stats(const char *when, const struct view_stats *st)
{
	if (st->diags > VIEW_MAX_DIAGS)
		ksft_print_msg("%s(%u more page diagnostics not shown)\n",
			       view_diag_prefix, st->diags - VIEW_MAX_DIAGS);
	ksft_print_msg(
		"%s%s: %zu pages: pagemap %zu present, %zu swap, %zu none; mincore %zu resident; SEEK_DATA %zu data; %zu failed\n",
		view_diag_prefix, when, st->pages, st->present, st->swap,
		st->none, st->resident, st->seek_data, st->failed);
}

bool check_region(const struct region *r, unsigned int req_even,
		  unsigned int req_odd, const char *when)
{
	struct view_stats st = { 0 };
	size_t i;

	for (i = 0; i < r->npages; i++)
		check_page_view(r, i, i % 2 ? req_odd : req_even, &st);
	print_view_stats(when, &st);
	return !st.failed;
}

bool check_region_content(const struct region *r, bool recheck,
			  unsigned int req, const char *when)
{
	struct view_stats st = { 0 }, cst = { 0 };
	size_t i;

	for (i = 0; i < r->npages; i++) {
		if (recheck)
			check_page_view(r, i, req, &st);
		check_page_pattern(r, i, &cst);
	}
	if (recheck)
		print_view_stats(when, &st);
	if (cst.failed)
		ksft_print_msg("%s%s: content of %zu of %zu pages wrong\n",
			       view_diag_prefix, when, cst.failed, r->npages);
	return !st.failed && !cst.failed;
}

int open_map_files(const char *map, size_t len)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)map, (unsigned long)(map + len));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int map_files_skip(int err)
{
	return skip(
		"opening /proc/self/map_files/<start>-<end> failed with %s: needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE",
		errno_name(err));
}

int setup_region(struct region *r, size_t npages)
{
	int err, fd;

	err = region_map(r, npages, PROT_READ | PROT_WRITE, 0);
	/* vm.overcommit_memory=2 refuses more than RAM plus swap */
	if (err == -ENOMEM && !strcmp(r->failed, "mmap"))
		return skip("mmap of %zu kB failed with ENOMEM (overcommit policy)",
			    r->len / 1024);
	if (err)
		return setup_failed(r->failed, -err);
	/* done by region_map(), but its failure is worth a note here */
	err = thp_disable_range(r->addr, r->len);
	if (err)
		ksft_print_msg("MADV_NOHUGEPAGE failed: %s\n", errno_name(err));

	if (r->kind == MEM_SHARED_ANON) {
		fd = open_map_files(r->addr, r->len);
		if (fd < 0) {
			if (fd == -EPERM || fd == -EACCES)
				return map_files_skip(-fd);
			return setup_failed("open of /proc/self/map_files", -fd);
		}
		r->fd = fd;
	}
	return KSFT_PASS;
}

int run_timed(const struct subtest *t, struct region *r)
{
	double start = now_seconds();
	int code = t->fn(r);

	ksft_print_msg("%s_%s: %.3f s\n", r->backend->name, t->name,
		       now_seconds() - start);
	return code;
}

void view_environment(void)
{
	unsigned long kb;

	ksft_print_msg("euid %u\n", (unsigned int)geteuid());
	if (!proc_field_kb("/proc/meminfo", "MemTotal", &kb))
		ksft_print_msg("MemTotal: %lu kB\n", kb);
	if (!proc_field_kb("/proc/meminfo", "SwapTotal", &kb))
		ksft_print_msg("SwapTotal: %lu kB\n", kb);
}

static int memory_pressure_run(struct region *r)
{
	unsigned long mem_total, swap_free, want_kb, limit_kb, swap_kb = 0;
	double t0, t1, t2;
	bool ok = true;
	int code, ret;

	if (!swap_present())
		return skip("no swap configured");
	ret = proc_field_kb("/proc/meminfo", "MemTotal", &mem_total);
	if (!ret)
		ret = proc_field_kb("/proc/meminfo", "SwapFree", &swap_free);
	if (ret)
		return setup_failed("reading /proc/meminfo", -ret);
	want_kb = mem_total / 4 * 5;
	limit_kb = mem_total + swap_free / 5 * 4;
	if (want_kb > limit_kb)
		return skip(
			"swap too small: 1.25 x MemTotal is %lu kB, more than MemTotal %lu kB + 80%% of SwapFree %lu kB",
			want_kb, mem_total, swap_free);

	code = setup_region(r, want_kb / (sys_pagesize() / 1024));
	if (code != KSFT_PASS)
		return code;
	ksft_print_msg("writing %zu MiB (MemTotal %lu kB, SwapFree %lu kB)\n",
		       r->npages * sys_pagesize() >> 20, mem_total, swap_free);
	t0 = now_seconds();
	region_fill(r);
	t1 = now_seconds();
	smaps_vma_field_kb(r->addr, "Swap", &swap_kb, NULL);
	ksft_print_msg("written in %.2f s; smaps Swap: %lu kB\n", t1 - t0,
		       swap_kb);

	ok &= check_region(r, shmem_req(r, 0), shmem_req(r, 0),
			   "under pressure");
	t2 = now_seconds();
	ok &= check_region_content(r, true, shmem_req(r, 0),
				   "checked again while reading back");
	ksft_print_msg("checked in %.2f s, read back in %.2f s\n", t2 - t1,
		       now_seconds() - t2);
	return pass_if(ok);
}

#define PAGE_CLUSTER		"/proc/sys/vm/page-cluster"
/*
 * The kernel's default, 8 pages of swap readahead (sysctl/vm.rst; set by
 * swap_readahead_setup() for 16 MiB of RAM or more)
 */
#define PAGE_CLUSTER_DEFAULT	"3"

static int memory_pressure_scenario(struct region *r)
{
	struct knob cluster = { 0 };
	int code, ret;

	ret = knob_set(&cluster, PAGE_CLUSTER, PAGE_CLUSTER_DEFAULT);
	if (ret) {
		ksft_print_msg(
			"vm.page-cluster %s: setting it to %s failed with %s; going on with it as it is\n",
			cluster.saved[0] ? cluster.saved : "unknown",
			PAGE_CLUSTER_DEFAULT, errno_name(ret));
		/* nothing was changed, nothing to put back */
		cluster.saved[0] = '\0';
	} else {
		ksft_print_msg("vm.page-cluster %s -> %s (the default) for this scenario\n",
			       cluster.saved, PAGE_CLUSTER_DEFAULT);
	}
	code = memory_pressure_run(r);
	knob_restore(&cluster);
	return code;
}

void memory_pressure_main(struct backend *b)
{
	static const struct subtest tests[] = {
		{ "memory_pressure", memory_pressure_scenario, 1U << 0 },
	};
	const struct suite suite = {
		.tests = tests,
		.nr_tests = ARRAY_SIZE(tests),
		.backends = b,
		.nr_backends = 1,
		.pagemap = true,
		.environment = view_environment,
		.run = run_timed,
	};

	suite_main(&suite);
}
