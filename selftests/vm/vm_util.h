/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the page-residency selftests: pagemap and mincore
 * readers, smaps parsing, MADV_PAGEOUT with verification, and small pieces
 * of environment setup.  Every helper reports failure through its return
 * value (0 or a negative errno unless stated otherwise) and never exits, so
 * a test can turn a missing feature into a SKIP with a reason.
 */
#ifndef __VM_UTIL_H
#define __VM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Bits of a /proc/pid/pagemap entry (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_SOFT_DIRTY		55
#define PM_MMAP_EXCLUSIVE	56
#define PM_UFFD_WP		57
#define PM_GUARD_REGION		58
#define PM_FILE			61
#define PM_SWAP			62
#define PM_PRESENT		63

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(arr)		(sizeof(arr) / sizeof((arr)[0]))
#endif

#define PM_BIT(bit)		(1ULL << (bit))
#define PM_PFN_MASK		((1ULL << 55) - 1)
/* for swap entries: bits 0-4 swap type, bits 5-54 swap offset */
#define PM_SWAP_TYPE_MASK	0x1fULL
#define PM_SWAP_OFFSET_SHIFT	5

static inline bool pagemap_entry_has(uint64_t entry, int bit)
{
	return entry & PM_BIT(bit);
}

/* PRESENT or SWAP: what upstream tests call "populated" */
static inline bool pagemap_entry_is_populated(uint64_t entry)
{
	return entry & (PM_BIT(PM_PRESENT) | PM_BIT(PM_SWAP));
}

/*
 * Nothing mapped: no flag and no PFN or swap entry.  PM_SOFT_DIRTY is
 * ignored, as for a none pte it only repeats the VMA's VM_SOFTDIRTY flag.
 */
static inline bool pagemap_entry_is_none(uint64_t entry)
{
	return !(entry & ~PM_BIT(PM_SOFT_DIRTY));
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

/* Page size, read once */
size_t psize(void);

/* Name of an errno value ("ENXIO"), or "E<number>" for unknown values */
const char *errno_name(int err);

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

/*
 * Why MADV_GUARD_INSTALL failed with EINVAL on a shmem mapping, for a SKIP
 * reason: the kernel lacks guard regions, or (6.13, 6.14) has them for
 * anonymous memory only, which is probed.
 */
const char *guard_einval_reason(void);

/* Write "4" to /proc/self/clear_refs; returns 0 or a negative errno */
int clear_softdirty(void);

/* Does a fresh anonymous mapping carry the "sd" VmFlag in smaps? */
bool softdirty_supported(void);

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

#endif /* __VM_UTIL_H */
