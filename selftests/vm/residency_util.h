/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the page-residency selftests: pagemap and mincore
 * readers, smaps parsing, MADV_PAGEOUT with verification, small pieces of
 * environment setup, test page patterns, and the reporting the tests have
 * in common (SKIP reasons, setup failures, the environment banner and the
 * table-driven subtest runner).  Every helper reports failure through its
 * return value (0 or a negative errno unless stated otherwise) and never
 * exits, so a test can turn a missing feature into a SKIP with a reason.
 */
#ifndef __RESIDENCY_UTIL_H
#define __RESIDENCY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "kselftest.h"

/*
 * Bits of a /proc/pid/pagemap entry (Documentation/admin-guide/mm/pagemap.rst).
 * PME_ rather than upstream vm_util.h's PM_, so that both headers can be
 * included in one file.
 */
#define PME_SOFT_DIRTY		(1ULL << 55)
#define PME_MMAP_EXCLUSIVE	(1ULL << 56)
#define PME_UFFD_WP		(1ULL << 57)
#define PME_GUARD_REGION	(1ULL << 58)
#define PME_FILE		(1ULL << 61)
#define PME_SWAP		(1ULL << 62)
#define PME_PRESENT		(1ULL << 63)
#define PME_PFN_MASK		((1ULL << 55) - 1)
/* for swap entries: bits 0-4 swap type, bits 5-54 swap offset */
#define PME_SWAP_TYPE_MASK	0x1fULL
#define PME_SWAP_OFFSET_SHIFT	5

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(arr)		(sizeof(arr) / sizeof((arr)[0]))
#endif

/* Does @entry have any of the flags in @mask? */
static inline bool pagemap_entry_has(uint64_t entry, uint64_t mask)
{
	return entry & mask;
}

/* PRESENT or SWAP: what upstream tests call "populated" */
static inline bool pagemap_entry_is_populated(uint64_t entry)
{
	return entry & (PME_PRESENT | PME_SWAP);
}

/*
 * Nothing mapped: no flag and no PFN or swap entry.  PME_SOFT_DIRTY is
 * ignored, as for a none pte it only repeats the VMA's VM_SOFTDIRTY flag.
 */
static inline bool pagemap_entry_is_none(uint64_t entry)
{
	return !(entry & ~PME_SOFT_DIRTY);
}

/* Constants missing from older libc headers */
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE	103
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC		0x0001U
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE	0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE	0x02
#endif

/* MADV_PAGEOUT attempts the tests allow pageout_range() */
#define PAGEOUT_RETRIES		100

/* Page size, read once */
size_t sys_pagesize(void);

/* Name of an errno value ("ENXIO"), or "E<number>" for unknown values */
const char *errno_name(int err);

/*
 * An lseek() result for diagnostics: "-1 (ENXIO)" when @off is -1 (@err
 * being its errno), else the offset in hex.  Returns @buf.
 */
const char *seek_str(off_t off, int err, char *buf, size_t len);

/*
 * lseek(@fd, @off, @whence) must return @want, or fail with -@want when
 * @want is negative: the value itself is compared, not just -1.  Unless
 * @quiet, a mismatch is printed with both values.
 */
bool seek_is(int fd, off_t off, int whence, off_t want, bool quiet);

/*
 * Open /proc/self/pagemap read-only.  Returns the fd or a negative errno.
 */
int pagemap_open(void);

/*
 * Read the pagemap entry of the page holding @addr.  @fd is a descriptor
 * from pagemap_open(), or -1 to open and close the file for this call only.
 */
int pagemap_read(int fd, const void *addr, uint64_t *entry);

/*
 * Describe a pagemap entry for diagnostics, e.g.
 * "0x8180000000012345 PRESENT|FILE|EXCLUSIVE pfn=0x12345" or
 * "0x4000000000000040 SWAP swp_type=0 swp_offset=0x2".  Returns @buf.
 */
const char *pagemap_describe(uint64_t entry, char *buf, size_t len);

/*
 * Names of the pagemap flags set in @mask, e.g. "PRESENT|FILE", or @none
 * when there is none.  Returns @buf.
 */
const char *pagemap_flags_str(uint64_t mask, const char *none, char *buf,
			      size_t len);

/*
 * mincore() of @len bytes from page-aligned @addr.  @vec must hold one byte
 * per page.  Returns 0 or a negative errno.
 */
int mincore_range(const void *addr, size_t len, unsigned char *vec);

/* mincore() of the single page holding @addr; *@resident gets bit 0 */
int mincore_page(const void *addr, bool *resident);

/*
 * Value in kB of smaps field @field (e.g. "Swap", "Rss") of the VMA that
 * contains @addr.  *@vma_kb, if not NULL, gets the VMA size in kB.
 * Returns 0, -ENOENT if no VMA contains @addr or the field is absent, or
 * another negative errno.
 */
int smaps_vma_field_kb(const void *addr, const char *field,
		       unsigned long *kb, unsigned long *vma_kb);

/*
 * MADV_PAGEOUT [@addr, @addr + @len) and verify through the smaps Swap:
 * field of the VMA holding @addr that it grew by @len (or that the whole
 * VMA is now swapped out, whichever is smaller).  Works for anonymous and
 * shmem (memfd, tmpfs, MAP_SHARED|MAP_ANONYMOUS) mappings; the range should
 * be resident and mapped only by this process on entry.  MADV_PAGEOUT is
 * retried up to @retries times.  *@swap_kb, if not NULL, gets the last Swap:
 * value seen.
 *
 * Returns 0 when verified, -EAGAIN when the page-out could not be verified
 * (no swap, swap full, pages shared or busy), or the negative errno of a
 * failing call (e.g. -EINVAL from kernels without MADV_PAGEOUT).
 */
int pageout_range(void *addr, size_t len, int retries,
		  unsigned long *swap_kb);

/* Is at least one swap area active (/proc/swaps, else /proc/meminfo)? */
bool swap_present(void);

/* MADV_NOHUGEPAGE over the range; returns 0 or a negative errno */
int thp_disable_range(void *addr, size_t len);

/*
 * Restrict the calling thread to the CPU it is running on, so that pages it
 * faults in sit in the LRU batch of the CPU that MADV_PAGEOUT drains.
 * Returns the CPU number or a negative errno.
 */
int pin_to_current_cpu(void);

/*
 * Copy the first line of a small file such as a sysfs knob into @buf,
 * without the newline.  Returns 0 or a negative errno.
 */
int read_first_line(const char *path, char *buf, size_t len);

/*
 * Write @text to a small file such as a sysfs, procfs or cgroup knob.
 * Returns 0 or a negative errno.
 */
int write_knob(const char *path, const char *text);

/* A new memfd called @name; returns the fd or a negative errno */
int memfd_new(const char *name);

/* A new O_TMPFILE file in @dir; returns the fd or a negative errno */
int tmpfile_new(const char *dir);

/* Can @dir hold O_TMPFILE files, and is it on a tmpfs? */
bool tmpfs_dir_usable(const char *dir);

/*
 * Find a directory on a tmpfs mount in which O_TMPFILE files can be
 * created: /dev/shm if it qualifies, else the first such tmpfs mount in
 * /proc/self/mounts.  The path goes to @buf.  Returns 0 or -ENOENT.
 */
int tmpfs_find_dir(char *buf, size_t len);

/*
 * Offset of the first byte of [@buf, @buf + @len) that differs from @want,
 * or -1 when every byte matches.
 */
ssize_t find_byte_mismatch(const void *buf, size_t len, unsigned char want);

/* Byte that page @idx of a test file or mapping is filled with; never 0 */
unsigned char page_byte(size_t idx);

/* Fill each of the @npages pages from @addr with page_byte() of its index */
void fill_pages(char *addr, size_t npages);

/* pwrite() page @idx of @fd, filled with page_byte(@idx); 0 or -errno */
int pwrite_page(int fd, size_t idx);

/*
 * Is every byte of @page, page @idx of its file or mapping, @want?  Unless
 * @quiet, the first byte that differs is printed.
 */
bool page_filled_with(const void *page, size_t idx, unsigned char want,
		      bool quiet);

/*
 * Why MADV_GUARD_INSTALL failed with EINVAL on a shmem mapping, for a SKIP
 * reason: the kernel lacks guard regions, or (6.13, 6.14) has them for
 * anonymous memory only, which is probed.
 */
const char *guard_einval_reason(void);

/* Write "4" to /proc/self/clear_refs; returns 0 or a negative errno */
int softdirty_clear(void);

/* Does a fresh anonymous mapping carry the "sd" VmFlag in smaps? */
bool softdirty_available(void);

/*
 * Value in kB of the first "@field:" line of a /proc file with
 * "Name: <n> kB" lines, such as /proc/meminfo, /proc/self/status or
 * /proc/self/smaps_rollup.  Returns 0, -ENOENT if the field is absent, or
 * another negative errno.
 */
int proc_field_kb(const char *path, const char *field, unsigned long *kb);

/*
 * Sum in kB of smaps field @field over every VMA of this process.  Returns
 * 0, -ENOENT if no VMA has the field, or another negative errno.
 */
int smaps_sum_field_kb(const char *field, unsigned long *kb);

/*
 * Subtests and their reporting.  The helpers below that only print, through
 * ksft_print_msg(), live in residency_util.c; the kselftest.h counters are private
 * to each program, so whatever reports a result is inline here.
 */

/* Reason of the SKIP of the subtest that is running, set by skip() */
#define SKIP_REASON_LEN		256
extern char skip_reason[SKIP_REASON_LEN];

/* Record why the running subtest skips in skip_reason; returns KSFT_SKIP */
__printf(1, 2) int skip(const char *fmt, ...);

/*
 * Print "setup: @what failed: EFOO (text)" for the positive errno @err;
 * returns KSFT_FAIL, for the subtest to end with.
 */
int setup_failed(const char *what, int err);

/*
 * The first lines of every program's output, as "# " diagnostics: kernel
 * release and machine, page size, the THP settings and whether swap is
 * active.
 */
void print_env_banner(void);

/* pin_to_current_cpu(), and a diagnostic saying which CPU or why not */
void print_env_pin_cpu(void);

/*
 * fallocate() as a setup step: KSFT_PASS when done, a SKIP when the file
 * system does not support @mode, else a setup failure.
 */
int setup_fallocate(int fd, int mode, off_t off, off_t len);

/* A kind of memory the subtests of a program run on */
struct backend_info {
	const char *name;	/* put in front of the subtest names */
	char skip[160];		/* why it cannot be tested; empty when it can */
};

/*
 * The memfd and tmpfs backends of a program: a reason in @memfd->skip when
 * no memfd can be created, and in @tmpfs->skip when tmpfs_find_dir() finds
 * no directory for @dir (of @len bytes).  Either may be NULL.
 */
void probe_shmem_backends(struct backend_info *memfd,
			  struct backend_info *tmpfs, char *dir, size_t len);

/*
 * A subtest of a table run by run_subtests(): it runs on each backend b
 * whose bit (1U << b) is set in @backends and is reported as
 * "<backend name>_<name>".  @fn returns a KSFT_* code, with skip() for a
 * SKIP; it gets the backend, or what the program's run hook passes.
 */
struct subtest {
	const char *name;
	int (*fn)(int arg);
	unsigned int backends;
};

/* How many results run_subtests() reports: the plan */
unsigned int subtests_plan(const struct subtest *tests, size_t nr_tests,
			   size_t nr_backends);

/*
 * Run the subtests backend by backend, each backend in table order, and
 * report each: a SKIP with the backend's reason when it cannot be tested,
 * else the code the subtest returns (and skip_reason for a SKIP).  @run, if
 * not NULL, runs subtest @t on backend @b in place of @t->fn(@b), for
 * instance to hand it a fresh file.
 */
static inline void run_subtests(const struct subtest *tests, size_t nr_tests,
				const struct backend_info *backends,
				size_t nr_backends,
				int (*run)(const struct subtest *t, int b))
{
	char name[128];
	size_t i, b;
	int code;

	for (b = 0; b < nr_backends; b++) {
		for (i = 0; i < nr_tests; i++) {
			const struct subtest *t = &tests[i];

			if (!(t->backends & (1U << b)))
				continue;
			snprintf(name, sizeof(name), "%s_%s", backends[b].name,
				 t->name);
			if (backends[b].skip[0]) {
				ksft_test_result_code(KSFT_SKIP, name, "%s",
						      backends[b].skip);
				continue;
			}
			skip_reason[0] = '\0';
			code = run ? run(t, b) : t->fn(b);
			ksft_test_result_code(code, name, "%s",
					      code == KSFT_SKIP ? skip_reason : "");
		}
	}
}

#endif /* __RESIDENCY_UTIL_H */
