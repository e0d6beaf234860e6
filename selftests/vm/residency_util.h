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
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <linux/userfaultfd.h>

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
#ifndef MADV_HWPOISON
#define MADV_HWPOISON		100
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

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY		1
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM	(1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)
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

/* The pagemap flags to find clear in "nothing mapped", soft-dirty aside */
#define PME_NONE_MASK		(~PME_SOFT_DIRTY)

/*
 * Does @entry, the pagemap entry of page @idx, have all the flags of @set
 * and none of @clear?  If not, the entry is printed after @when (if not
 * NULL), with what was expected.
 */
bool pagemap_entry_is(const char *when, size_t idx, uint64_t entry,
		      uint64_t set, uint64_t clear);

/* The PAGEMAP_SCAN ioctl (Linux 6.7+), for libc headers that lack it */
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WPALLOWED	(1 << 0)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PAGE_IS_FILE		(1 << 2)
#define PAGE_IS_PRESENT		(1 << 3)
#define PAGE_IS_SWAPPED		(1 << 4)
#define PAGE_IS_PFNZERO		(1 << 5)
#define PAGE_IS_HUGE		(1 << 6)
#define PAGE_IS_SOFT_DIRTY	(1 << 7)
#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)
#endif
/* categories newer than the first PAGEMAP_SCAN: probe with pagemap_scan_has() */
#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD		(1 << 8)
#endif
#ifndef PAGE_IS_ACCESSED
#define PAGE_IS_ACCESSED	(1 << 9)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC	(1 << 15)
#endif

/*
 * PAGEMAP_SCAN on /proc/self/pagemap (pagemap_fd, or an fd of its own when
 * that is not open) with @arg, whose size field it fills in.  Returns what
 * the ioctl returns (the number of regions written to vec) or a negative
 * errno.
 */
long pagemap_scan_ioctl(struct pm_scan_arg *arg);

/*
 * Does the kernel have PAGEMAP_SCAN?  Probed once, on the first call; @why
 * (if not NULL) gets the errno name when it has not.
 */
bool pagemap_scan_available(const char **why);

/*
 * Does the kernel know PAGEMAP_SCAN category @category?  A category it does
 * not know in return_mask is EINVAL (pagemap_scan_get_args()); probed once
 * per category bit.  False when there is no PAGEMAP_SCAN at all.
 */
bool pagemap_scan_has(uint64_t category);

/*
 * The PAGEMAP_SCAN categories of the @npages pages from page @first of the
 * mapping at @base, one per page into @cats, those of @return_mask only.
 * Returns 0 or a negative errno.
 */
int pagemap_scan_pages(const void *base, size_t first, size_t npages,
		       uint64_t return_mask, uint64_t *cats);

/*
 * pagemap_entry_is() for each of the @npages pages from page @first of the
 * mapping at @base, read through pagemap_fd (or an fd of its own when that
 * is not open); a page whose entry cannot be read fails them all.  At most
 * @max_diags mismatches are printed.  Where the kernel has PAGEMAP_SCAN,
 * the same pages are also read through it, and a page whose categories say
 * otherwise than its entry fails too: PRESENT, SWAPPED, FILE and
 * SOFT_DIRTY against the pagemap bits, PFNZERO against the ZERO_PAGE flag
 * that /proc/kpageflags gives the entry's PFN (as root only: PFNs read as
 * 0 without CAP_SYS_ADMIN).  The correspondence, with the document and
 * kernel version behind each line, is scan_rows[] in residency_util.c.
 */
bool pagemap_pages_are(const char *when, const void *base, size_t first,
		       size_t npages, uint64_t set, uint64_t clear,
		       unsigned int max_diags);

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
 * Does the VMA that contains @addr have @flag (e.g. "sd", "uw") among the
 * VmFlags of its smaps entry?  Returns 1, 0, -ENOENT when no VMA contains
 * @addr or it has no VmFlags line, or another negative errno.
 */
int smaps_vma_flag(const void *addr, const char *flag);

/* Counter @name of /proc/vmstat, or -1 when it is absent or unreadable */
long vmstat_read(const char *name);

/*
 * Pages the kernel has written out to swap since boot: pswpout plus zswpout
 * of /proc/vmstat.  The guest is otherwise quiet, so its growth across a
 * MADV_PAGEOUT is what that call wrote, and it is a signal apart from
 * pagemap, mincore and smaps, which the subtests assert on.  -1 without VM
 * event counters (CONFIG_VM_EVENT_COUNTERS).
 */
long swap_writes(void);

/*
 * Pages the kernel has read in from swap since boot: pswpin plus zswpin of
 * /proc/vmstat, counted when a read is submitted, readahead included.  -1
 * without VM event counters.
 */
long swap_reads(void);

/* What pageout_range() did: madvise() calls, and pages written to swap */
struct pageout_stats {
	int attempts;
	long written;
};

/*
 * MADV_PAGEOUT [@addr, @addr + @len) until swap_writes() has grown by the
 * number of pages in the range.  The range must be resident, dirty (written
 * since it was last swapped in) and mapped only by this process.  A page
 * still in another CPU's LRU add batch is skipped by MADV_PAGEOUT, so the
 * call is repeated up to @retries more times.  *@st, if not NULL, gets what
 * was done.
 *
 * Returns 0 when confirmed, -EAGAIN when the kernel did not write the pages
 * out, or the negative errno of madvise().
 */
int pageout_range(void *addr, size_t len, int retries,
		  struct pageout_stats *st);

/* Name of a madvise() advice for diagnostics ("MADV_POPULATE_READ") */
const char *advice_name(int advice);

/*
 * madvise(@addr, @len, @advice) must fail with @want_err, or succeed when
 * @want_err is 0; a different outcome is printed with what was expected.
 */
bool madvise_result_is(void *addr, size_t len, int advice, int want_err);

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

/* Transparent huge pages: the sysfs directory, and the knobs in it */
#define THP_SYSFS		"/sys/kernel/mm/transparent_hugepage/"

/* hpage_pmd_size, the size of a PMD-mapped huge page; 0 when unknown */
size_t thp_pmd_size(void);

/*
 * A huge page was asked for and none came.  A huge page is best effort, so
 * this is a SKIP when the kernel says it declined (the counter at @path,
 * /proc/vmstat's @name when @path is NULL, grew past @before), and a
 * failure, printed, when it claims no fallback.
 */
int huge_page_declined(const char *path, const char *name, long before);

/*
 * A sysfs knob that takes one of a list of words and shows the current one
 * in brackets ("always [madvise] never"), or shows just its value ("1"),
 * set by knob_set() and put back as it was by knob_restore().
 */
struct knob {
	char path[PATH_MAX];
	char saved[32];		/* empty until knob_set() saved it */
};

/* Set the knob at @path to @value, saving the old value once; 0 or -errno */
int knob_set(struct knob *k, const char *path, const char *value);

/* Put a knob that knob_set() changed back as it was */
void knob_restore(struct knob *k);

/* Value of a counter file such as an mTHP stat; -1 when unreadable */
long counter_read(const char *path);

/*
 * The largest size ftruncate(@fd) accepts: LLONG_MAX if it takes that,
 * else a binary search between a size it accepts and one it refuses, from
 * the top down.  Only EFBIG and EINVAL count as refusals; another error
 * stops the search and is returned as a negative errno.  The file is left
 * at the size found.  SIGXFSZ must be ignored or RLIMIT_FSIZE unlimited.
 */
off_t file_max_size(int fd);

/*
 * Ignore SIGXFSZ and lift RLIMIT_FSIZE to its hard limit, so that a file
 * can grow to the file system's largest size.  Returns true, or false with
 * the reason in @why when a limit remains.
 */
bool fsize_unlimited(char *why, size_t len);

/* Start of the page holding the last byte of a file of @size bytes */
static inline off_t last_page_start(off_t size)
{
	return (size - 1) & ~(off_t)(sys_pagesize() - 1);
}

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

/* Is the running kernel's version (uname release) below @major.@minor? */
bool kernel_older_than(unsigned int major, unsigned int minor);

/*
 * MADV_GUARD_INSTALL over [@addr, @addr + @len) as a setup step: KSFT_PASS
 * when installed.  EINVAL is a SKIP only on a kernel that predates the
 * feature for this memory, which is probed on private anonymous memory
 * first: guard regions came in 6.13 for private anonymous memory ("mm:
 * madvise: implement lightweight guard page mechanism") and in 6.15 for
 * shmem and file mappings ("mm: allow guard regions in file-backed and
 * read-only mappings").  EINVAL on a kernel of those versions is a failure.
 */
int setup_guard_install(void *addr, size_t len);

/*
 * Read a byte at @addr, catching SIGSEGV and SIGBUS for this read only.
 * Returns the signal the read raised, its siginfo in *@info (if not NULL),
 * or 0 when the read completed.
 */
int page_read_signal(const void *addr, siginfo_t *info);

/*
 * Does a read of @addr raise SIGSEGV (a guard page does)?  A SIGBUS is
 * caught too, and is not a SIGSEGV.
 */
bool page_read_faults(const void *addr);

/*
 * The programs write their TAP on the serial console, where the kernel
 * prints its errors too (the guest boots with loglevel=4, so KERN_ERR
 * lines come through), and a kernel line printed while one of ours is still
 * being sent lands in the middle of it.  console_drain() before a call that
 * makes the kernel print (memory-failure does) sends our output out first:
 * stdout flushed and the tty drained (tcdrain(), a no-op when stdout is
 * not a tty).  console_settle() after it also gives a console that prints
 * from a kernel thread (nbcon consoles, 8250 in 7.x) the time to print
 * before we write again.
 */
#define CONSOLE_SETTLE_US	50000
void console_drain(void);
void console_settle(void);

/*
 * Memory failure injection (MADV_HWPOISON, CONFIG_MEMORY_FAILURE, as
 * CAP_SYS_ADMIN; madvise(2)).  The poisoned page frame is lost until
 * reboot: a program poisons only a handful of pages.
 */
#define MEMORY_FAILURE_RECOVERY	"/proc/sys/vm/memory_failure_recovery"
#define CAP_SYS_ADMIN_BIT	21
#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR		4
#endif
#ifndef BUS_MCEERR_AO
#define BUS_MCEERR_AO		5
#endif

/* Has this process CAP_SYS_ADMIN in its effective set (/proc/self/status)? */
bool capable_sys_admin(void);

/*
 * Can this process poison pages with MADV_HWPOISON?  Only with
 * CONFIG_MEMORY_FAILURE (MEMORY_FAILURE_RECOVERY exists), that sysctl at 1
 * (at 0 memory_failure() panics) and CAP_SYS_ADMIN; else @why says which.
 */
bool memory_failure_usable(char *why, size_t len);

/* HardwareCorrupted of /proc/meminfo in kB (poisoned pages), or -1 */
long hardware_corrupted_kb(void);

/*
 * madvise(@addr, @len, MADV_HWPOISON), with a SIGBUS handler in place: the
 * kernel may send the caller SIGBUS (BUS_MCEERR_AR) for a dirty page it
 * unmaps, delivered when the call returns.  Its siginfo goes to *@sigbus
 * (zeroed when none came).  The console is drained before and settled
 * after, memory-failure prints there.  Returns 0 or a negative errno.
 */
int hwpoison_inject(void *addr, size_t len, siginfo_t *sigbus);

/* A SIGBUS or SIGSEGV siginfo for diagnostics; returns @buf */
const char *siginfo_str(const siginfo_t *si, char *buf, size_t len);

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

/* /proc/kpageflags entry of frame @pfn; 0 or a negative errno */
int kpageflags_read(uint64_t pfn, uint64_t *flags);

/*
 * How many of the @n frames @pfns /proc/kpageflags shows in the swap cache
 * (KPF_SWAPCACHE), or a negative errno.  @writeback, if not NULL, gets how
 * many of those are still being written to swap (KPF_WRITEBACK).
 */
int pfns_in_swap_cache(const uint64_t *pfns, size_t n, int *writeback);

/* Print the kpageflags of each of the @n frames @pfns in the swap cache */
void print_pfns_in_swap_cache(const uint64_t *pfns, size_t n);

/* The flags of a kpageflags entry a swapped-out page may show, for diagnostics */
const char *kpageflags_str(uint64_t flags, char *buf, size_t len);

/*
 * Child cgroups of our cgroup v2 cgroup, to reclaim the memory charged to
 * them with memory.reclaim.  memcg_probe() finds our cgroup (memcg_home),
 * enables the memory controller for its children if needed (undone by
 * memcg_cleanup()) and checks that a child has memory.reclaim; when any of
 * that fails, memcg_skip says why and memcg_create() fails.
 */
extern char memcg_home[PATH_MAX];
extern char memcg_skip[256];
void memcg_probe(void);
/* memcg_probe() where there is swap to evict pages to, as a suite's setup */
void memcg_probe_swap(void);
/* Say in the banner whether and where pages can be evicted from the swap cache */
void memcg_print_eviction(void);
void memcg_cleanup(void);
/* Record why child cgroups cannot be used in memcg_skip */
__printf(1, 2) void memcg_unavailable(const char *fmt, ...);
/* Create a child cgroup; its directory goes to @dir; 0 or a negative errno */
int memcg_create(char *dir, size_t len);
/* Move this process into the cgroup at @dir; 0 or a negative errno */
int memcg_enter(const char *dir);
/* Remove the child cgroup at @dir, retrying while it is busy */
void memcg_remove(const char *dir);
/* Ask the child cgroup at @dir to reclaim far more than it holds */
int memcg_reclaim(const char *dir);

/*
 * userfaultfd write protection.  uffd_probe_features() asks UFFDIO_API
 * what the kernel offers into uffd_features, or says in uffd_skip why
 * there is no userfaultfd to ask.
 */
extern char uffd_skip[160];
extern uint64_t uffd_features;
void uffd_probe_features(void);

/* What uffd_probe_features() found, as a line of the banner */
void uffd_print_features(void);

/*
 * A new userfaultfd: as an unprivileged user with UFFD_USER_MODE_ONLY or
 * through /dev/userfaultfd when vm.unprivileged_userfaultfd forbids the
 * plain syscall.  Returns the fd or a negative errno.
 */
int uffd_new(void);

/*
 * Open a userfaultfd with @features (called @feature_name in the SKIP
 * reason when the kernel lacks them) and register [@addr, @addr + @len)
 * for write protection.  Returns KSFT_PASS with the fd in *@fdp, or the
 * code the subtest ends with.
 */
int uffd_wp_register(uint64_t features, const char *feature_name,
		     void *addr, size_t len, int *fdp);

/* UFFDIO_WRITEPROTECT [@addr, @addr + @len): KSFT_PASS or a setup failure */
int uffd_wp_protect(int fd, void *addr, size_t len);

/* UFFDIO_WRITEPROTECT mode 0 (and wake): 0 or a negative errno */
int uffd_wp_unprotect(int fd, void *addr, size_t len);

/*
 * Write @byte to @addr from a second thread while this one serves the
 * userfaultfd @fd, with no time limit of its own: *@event says whether the
 * write raised a write-protect fault (UFFD_EVENT_PAGEFAULT with
 * UFFD_PAGEFAULT_FLAG_WP on @addr's page), which is resolved as
 * userfaultfd(2) says, with UFFDIO_WRITEPROTECT mode 0 on that page, so
 * that the write completes.  Returns 0 when the write is done, or a
 * negative errno when the thread could not be run or another message
 * came (printed).
 */
int uffd_write_catching_wp(int fd, void *addr, char byte, bool *event);

/*
 * Banner lines of the programs that use soft-dirty and userfaultfd: whether
 * soft-dirty is supported, and the userfaultfd features (after
 * uffd_probe_features()) or why there is no userfaultfd.
 */
void softdirty_uffd_environment(void);

/*
 * Subtests and their reporting.  The helpers below that only print, through
 * ksft_print_msg(), live in residency_util.c; the kselftest.h counters are
 * private to each program, so whatever reports a result is inline here.
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
 * fallocate() as a setup step: KSFT_PASS when done, a SKIP when the file
 * system does not support @mode, else a setup failure.
 */
int setup_fallocate(int fd, int mode, off_t off, off_t len);

/*
 * pageout_range() with PAGEOUT_RETRIES as a setup step.  KSFT_PASS once the
 * page-out is confirmed; a SKIP only for what the system lacks (no swap
 * configured, no VM event counters to confirm it, or no MADV_PAGEOUT at all:
 * EINVAL on private anonymous memory too).  Anything else is a failure of
 * the subtest, with what was tried and seen: the kernel has the feature and
 * free swap, so it must write an exclusively mapped, dirty page out.
 */
int setup_pageout(void *addr, size_t len);

/* /proc/self/pagemap, opened by suite_start() */
extern int pagemap_fd;

/* The kinds of memory the subtests run on */
enum mem_kind {
	MEM_PRIVATE_ANON,	/* MAP_PRIVATE | MAP_ANONYMOUS */
	MEM_SHARED_ANON,	/* MAP_SHARED | MAP_ANONYMOUS */
	MEM_MEMFD,		/* a memfd, mapped MAP_SHARED */
	MEM_TMPFS,		/* an O_TMPFILE file on a tmpfs, MAP_SHARED */
	MEM_SYSV_SHM,		/* a SysV shmget() segment, shmat() */
};

/* How many kinds of memory there are */
#define NR_MEM_KINDS		(MEM_SYSV_SHM + 1)

/* The bit of kind @k in a subtest's "on" mask, for a MEM_KIND_BACKENDS table */
#define ON_KIND(k)		(1U << (k))

/* A kind of memory as a program tests it */
struct backend {
	const char *name;	/* put in front of the subtest names */
	enum mem_kind kind;
	/* MEM_TMPFS: as root, mount a tmpfs of our own if none is found */
	bool mount_if_none;
	/* not probed: its subtests fail rather than skip if it is missing */
	bool required;
	/* map PMD-aligned with MADV_HUGEPAGE instead of MADV_NOHUGEPAGE */
	size_t huge_size;
	char dir[PATH_MAX];	/* MEM_TMPFS: where its files are created */
	const char *mount_opts;	/* set when dir is a mount of our own */
	char skip[160];		/* why it cannot be tested; empty when it can */
};

/*
 * One backend of every kind, indexed by enum mem_kind, for a program that
 * runs on all of them: struct backend backends[NR_MEM_KINDS] = ...
 */
#define MEM_KIND_BACKENDS {						\
	[MEM_PRIVATE_ANON] = { .name = "anon", .kind = MEM_PRIVATE_ANON }, \
	[MEM_SHARED_ANON] = { .name = "shared_anon",			\
			      .kind = MEM_SHARED_ANON },		\
	[MEM_MEMFD] = { .name = "memfd", .kind = MEM_MEMFD },		\
	[MEM_TMPFS] = { .name = "tmpfs", .kind = MEM_TMPFS },		\
	[MEM_SYSV_SHM] = { .name = "sysv", .kind = MEM_SYSV_SHM },	\
}

/* Does memory of @b have a file (memfd, tmpfs) that lseek() can look at? */
static inline bool backend_has_file(const struct backend *b)
{
	return b->kind == MEM_MEMFD || b->kind == MEM_TMPFS;
}

/*
 * Probe each backend that has no skip reason yet: that a memfd or a SysV
 * segment can be created, and for MEM_TMPFS without a directory, find one
 * with tmpfs_find_dir() or, with mount_if_none, mount one.
 */
void backends_probe(struct backend *backends, size_t nr);

/*
 * As root, mount a tmpfs of our own, in a private mount namespace so that
 * it goes away with this process, with the first of the @nr @opts that
 * works, on the first of /mnt, /tmp, /dev/shm and /dev where it does.  On
 * success the directory and options go to @b->dir and @b->mount_opts; else
 * @b->skip says why.  Returns 0 or a negative errno.
 */
int mount_private_tmpfs(struct backend *b, const char * const *opts,
			size_t nr);

/*
 * Memory of a backend, mapped or not yet: a memfd or tmpfs file, a SysV
 * segment, or nothing for anonymous memory, and a mapping of it.
 */
struct region {
	const struct backend *backend;
	enum mem_kind kind;
	char *addr;		/* MAP_FAILED when not mapped */
	size_t len;
	size_t npages;
	int fd;			/* memfd or tmpfs file; -1 for the others */
	int shmid;		/* SysV segment; -1 for the others */
	const char *failed;	/* the call that made a region_*() fail */
};

/*
 * Start a region of @b: a fresh, empty memfd or tmpfs file; nothing yet for
 * the others.  Returns 0 or a negative errno, with the failing call in
 * @r->failed.
 */
int region_open(struct region *r, const struct backend *b);

/* Size the file of a region to @npages; 0 or a negative errno */
int region_resize(struct region *r, size_t npages);

/*
 * Map @npages of the region with @prot: MAP_SHARED, or MAP_PRIVATE for
 * private anonymous memory, unless @flags says otherwise (MAP_PRIVATE for
 * a private file mapping).  A file shorter than that is first made that
 * long, a SysV segment created that large.  Each page gets its own page
 * table entry (MADV_NOHUGEPAGE) unless the backend's huge_size asks for
 * huge pages.  Returns 0 or a negative errno, with the failing call in
 * @r->failed; the region is then closed.
 */
int region_map(struct region *r, size_t npages, int prot, int flags);

/* region_map() with PROT_READ | PROT_WRITE as a setup step: a KSFT code */
int region_setup(struct region *r, size_t npages);

/* Unmap the region, if mapped */
void region_unmap(struct region *r);

/* Unmap the region and close or remove its memory */
void region_close(struct region *r);

/*
 * Move the region's mapping to a new address (mremap() with
 * MREMAP_MAYMOVE | MREMAP_FIXED onto a range reserved for it); r->addr
 * follows.  Returns 0 or a negative errno.
 */
int region_move(struct region *r);

/*
 * uffd_wp_register() of the whole region with the feature userfaultfd(2)
 * names for its memory: UFFD_FEATURE_PAGEFAULT_FLAG_WP for private
 * anonymous memory (5.7), UFFD_FEATURE_WP_HUGETLBFS_SHMEM for shmem
 * (5.19).  UFFDIO_REGISTER refuses a SysV segment (EINVAL): userfaultfd
 * takes anonymous, shmem and hugetlb VMAs, and a shmat() mapping is none
 * of them, which is a SKIP.  A KSFT code, the fd in *@fdp on KSFT_PASS.
 */
int uffd_wp_register_region(const struct region *r, int *fdp);

static inline char *region_page(const struct region *r, size_t idx)
{
	return r->addr + idx * sys_pagesize();
}

/* The index of the page of the region that holds @addr */
static inline size_t region_page_index(const struct region *r, uint64_t addr)
{
	return (addr - (uintptr_t)r->addr) / sys_pagesize();
}

/* Touch page @idx with a read access (a read fault if it is not mapped) */
static inline char region_read(const struct region *r, size_t idx)
{
	return __atomic_load_n(region_page(r, idx), __ATOMIC_RELAXED);
}

/* Fill page @idx with page_byte(@idx) */
void region_write(const struct region *r, size_t idx);

/* Does page @idx still hold page_byte(@idx)?  A mismatch is printed */
bool region_intact(const struct region *r, size_t idx);

/* smaps field @field (e.g. "Swap") of the region's VMA in kB; 0 if unknown */
unsigned long region_smaps_kb(const struct region *r, const char *field);

/* setup_pageout() of @npages pages of the region from page @first */
int region_pageout(const struct region *r, size_t first, size_t npages);

/*
 * A row setup's common part: with swap configured (else a SKIP), @written
 * on @r, then @npages pages of it from page @first (0: up to its end)
 * paged out by region_pageout().  A KSFT code.
 */
int region_written_paged_out(struct region *r, int (*written)(struct region *r),
			     size_t first, size_t npages);

/*
 * A subtest of a table run by suite_main(): it runs on each backend b
 * whose bit (1U << b) is set in @on and is reported as
 * "<backend name>_<name>".  @fn gets a fresh region of the backend from
 * region_open(), which it maps as it needs, and returns a KSFT_* code,
 * with skip() for a SKIP; the region is closed after it.  A @setup shared
 * by several rows runs first on the region; when it returns anything but
 * KSFT_PASS, that is the result and @fn is not called.
 */
struct subtest {
	const char *name;
	int (*fn)(struct region *r);
	unsigned int on;
	int (*setup)(struct region *r);
};

/* KSFT_PASS when @ok, else KSFT_FAIL */
static inline int pass_if(bool ok)
{
	return ok ? KSFT_PASS : KSFT_FAIL;
}

/* A program: its subtests, its backends and what it needs around them */
#define SUITE_TABLES(tests_, backends_)				\
	.tests = (tests_), .nr_tests = ARRAY_SIZE(tests_),	\
	.backends = (backends_), .nr_backends = ARRAY_SIZE(backends_)

struct suite {
	const struct subtest *tests;
	size_t nr_tests;
	struct backend *backends;
	size_t nr_backends;
	/* report test by test, each on its backends; else backend by backend */
	bool by_test;
	/* called before the plan, may exit with a SKIP */
	void (*check)(void);
	/* opens pagemap_fd, and skips the program if it cannot */
	bool pagemap;
	/* probes, called before backends_probe() */
	void (*setup)(void);
	/* diagnostics of the banner beyond the common ones */
	void (*environment)(void);
	/* runs @t on @r in place of @t->fn(@r) */
	int (*run)(const struct subtest *t, struct region *r);
	/* called after the last subtest */
	void (*cleanup)(void);
};

/* Open /proc/self/pagemap into pagemap_fd; 0 or a negative errno */
int suite_pagemap_open(void);

/* Unmount the tmpfs mounts of our own and close pagemap_fd */
void suite_release(void);

/*
 * The start of every program: the KTAP header, @check if any (it may exit
 * with a SKIP), with @pagemap /proc/self/pagemap opened into pagemap_fd
 * (the whole program skips if it cannot be), and the plan of @plan results.
 */
static inline void suite_start(unsigned int plan, void (*check)(void),
			       bool pagemap)
{
	int ret;

	ksft_print_header();
	if (check)
		check();
	ret = pagemap ? suite_pagemap_open() : 0;
	if (ret)
		ksft_exit_skip("cannot open /proc/self/pagemap: %s\n",
			       errno_name(ret));
	ksft_set_plan(plan);
}

/*
 * The environment banner as "# " diagnostics: kernel release and machine,
 * page size, the THP settings, whether swap is active, what @extra adds,
 * the CPU the program is pinned to (so that the pages it faults in sit in
 * the LRU batch of the CPU that MADV_PAGEOUT drains), and where the files
 * of the tmpfs backends among the @nr @backends are.
 */
void env_banner(const struct backend *backends, size_t nr,
		void (*extra)(void));

/* The end of every program: suite_release(), the totals, the exit code */
static inline __noreturn void suite_end(void)
{
	suite_release();
	ksft_finished();
}

/* How many results suite_main() reports: the plan */
unsigned int subtests_plan(const struct subtest *tests, size_t nr_tests,
			   size_t nr_backends);

/* Report a result named by the non-NULL ones of @a, @b and @c */
static inline void report_result(const char *a, const char *b, const char *c,
				 int code)
{
	char name[128];

	if (snprintf(name, sizeof(name), "%s%s%s%s%s", a ? a : "",
		     a && b ? "_" : "", b ? b : "", (a || b) && c ? "_" : "",
		     c ? c : "") >= (int)sizeof(name))
		ksft_print_msg("subtest name truncated: %s\n", name);
	/* no message for a pass or a failure: "ok N name", not "ok N name #  " */
	if (code == KSFT_SKIP)
		ksft_test_result_code(code, name, "%s", skip_reason);
	else
		ksft_test_result_code(code, name, NULL);
}

/*
 * Report the results of a group of checks that share one setup, named
 * "<@prefix>_<@names[i]>" (@names[i] with a NULL @prefix), up to a NULL
 * name: @codes[i], or @code for every one when the setup ended with it
 * instead of KSFT_PASS.
 */
static inline void report_checks(const char *prefix,
				 const char * const *names, const int *codes,
				 int code)
{
	size_t i;

	for (i = 0; names[i]; i++)
		report_result(prefix, names[i], NULL,
			      code == KSFT_PASS ? codes[i] : code);
}

/* Run subtest @t on backend @b of suite @s and report it */
static inline void run_subtest(const struct suite *s, const struct subtest *t,
			       size_t b)
{
	struct backend *be = &s->backends[b];
	struct region r;
	int code, ret;

	if (!(t->on & (1U << b)))
		return;
	skip_reason[0] = '\0';
	if (be->skip[0]) {
		code = skip("%s", be->skip);
	} else {
		ret = region_open(&r, be);
		if (ret)
			code = setup_failed(r.failed, -ret);
		else
			code = t->setup ? t->setup(&r) : KSFT_PASS;
		if (!ret && code == KSFT_PASS)
			code = s->run ? s->run(t, &r) : t->fn(&r);
		region_close(&r);
	}
	report_result(be->name, t->name, NULL, code);
}

/*
 * A whole table-driven program: suite_start(), the backends probed, every
 * subtest run on each of its backends and reported, either backend by
 * backend or with @s->by_test test by test, then suite_end().
 */
static inline __noreturn void suite_main(const struct suite *s)
{
	size_t i, b;

	suite_start(subtests_plan(s->tests, s->nr_tests, s->nr_backends),
		    s->check, s->pagemap);
	if (s->setup)
		s->setup();
	backends_probe(s->backends, s->nr_backends);
	env_banner(s->backends, s->nr_backends, s->environment);
	if (s->by_test) {
		for (i = 0; i < s->nr_tests; i++)
			for (b = 0; b < s->nr_backends; b++)
				run_subtest(s, &s->tests[i], b);
	} else {
		for (b = 0; b < s->nr_backends; b++)
			for (i = 0; i < s->nr_tests; i++)
				run_subtest(s, &s->tests[i], b);
	}
	if (s->cleanup)
		s->cleanup();
	suite_end();
}

/*
 * Page views: every page of a region as pagemap, mincore() and SEEK_DATA
 * see it, checked without touching it, and its content read back.  Used
 * by the programs that hold the kernel to the invariant a memory dumper
 * such as CRIU relies on: every page that holds data can be found, and
 * reads back intact.  For private anonymous memory a page with data is
 * PRESENT or SWAP in pagemap.  For shmem a page with data must be PRESENT
 * or SWAP, or resident according to mincore(), or data according to
 * lseek(SEEK_DATA) on the backing file (pagemap.rst, "Exceptions for
 * Shared Memory": the pte of a swapped-out shmem page is cleared).
 *
 * Page i of a region is filled with a pattern that encodes i: a byte
 * derived from it, PATTERN_MAGIC ^ i in the first word and ~i in the last,
 * so that a page found in the wrong place can be identified.
 */
#define PATTERN_MAGIC		0x5649534942494c45ULL
/* page diagnostics printed per check_region()/check_region_content() */
#define VIEW_MAX_DIAGS		8

/* What a page must look like, beyond the invariant */
#define REQ_PRESENT		(1U << 0)	/* pagemap PRESENT */
#define REQ_PM_NONE		(1U << 1)	/* pagemap reports nothing */
#define REQ_RESIDENT		(1U << 2)	/* mincore() 1 */
#define REQ_SEEK_DATA		(1U << 3)	/* SEEK_DATA finds it */

/* One page as pagemap, mincore() and SEEK_DATA see it */
struct page_view {
	uint64_t pme;
	int pm_err;		/* 0 or negative errno of the pagemap read */
	int mincore;		/* 0 or 1, or a negative errno */
	off_t seek;		/* SEEK_DATA from the page's offset */
	int seek_err;		/* errno when seek is -1, 0 without a file */
};

/* What the pages of one check looked like, and how many failed */
struct view_stats {
	size_t pages;
	size_t present;
	size_t swap;
	size_t none;
	size_t resident;
	size_t seek_data;
	size_t failed;
	unsigned int diags;
};

/* Put in front of page diagnostics ("child: " in a forked child); "" */
extern const char *view_diag_prefix;

/* CLOCK_MONOTONIC in seconds, for the timing lines */
double now_seconds(void);

/* Fill @page with the pattern of page @idx */
void pattern_fill(char *page, size_t idx);

/* Fill every page of the mapped region @r with its pattern */
void region_fill(const struct region *r);

/*
 * Read page @idx of @r through the mapping and compare it with its
 * pattern; a mismatch counts in @st and is printed (the first byte that
 * differs, and whose pattern the first word holds).
 */
bool check_page_pattern(const struct region *r, size_t idx,
			struct view_stats *st);

/* Look at page @idx of @r through the three interfaces, without touching it */
void observe_page(const struct region *r, size_t idx, struct page_view *v);

/* Print what the three interfaces said of page @idx, after @what */
void print_view(size_t idx, const char *what, const struct page_view *v);

/*
 * Check page @idx of @r by pagemap, mincore() and SEEK_DATA (when @r has a
 * file), without touching it: the invariant, plus whatever @req asks for.
 * Counted in @st; a failure is printed with everything the three
 * interfaces said.
 */
bool check_page_view(const struct region *r, size_t idx, unsigned int req,
		     struct view_stats *st);

/* Print the counts of @st after @when */
void print_view_stats(const char *when, const struct view_stats *st);

/* Check every page; @req_even and @req_odd for even and odd pages */
bool check_region(const struct region *r, unsigned int req_even,
		  unsigned int req_odd, const char *when);

/*
 * Read every page back.  With @recheck, each page is checked by the three
 * interfaces (with @req) right before it is read, while reading the others
 * keeps moving pages in and out of swap.
 */
bool check_region_content(const struct region *r, bool recheck,
			  unsigned int req, const char *when);

/*
 * Open /proc/self/map_files/<start>-<end> of the mapping [@map, @map +
 * @len): the backing file of MAP_SHARED|MAP_ANONYMOUS memory, for
 * SEEK_DATA.  Only CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE may.  Returns
 * the fd or a negative errno.
 */
int open_map_files(const char *map, size_t len);

/* The SKIP of a map_files open that failed with @err (EPERM, EACCES) */
int map_files_skip(int err);

/*
 * Map @npages of @r read-write as a setup step: a SKIP when the
 * overcommit policy refuses the mapping, and for MEM_SHARED_ANON the
 * map_files file of the mapping as @r->fd (a SKIP without the capability
 * to open it).  Returns a KSFT_* code.
 */
int setup_region(struct region *r, size_t npages);

/* @req, with REQ_SEEK_DATA when @r has a file for SEEK_DATA */
static inline unsigned int shmem_req(const struct region *r, unsigned int req)
{
	return r->fd >= 0 ? req | REQ_SEEK_DATA : req;
}

/* A suite's run: @t on @r, then "# <backend>_<name>: N s" */
int run_timed(const struct subtest *t, struct region *r);

/* A suite's environment: euid, MemTotal and SwapTotal */
void view_environment(void);

/*
 * Real memory pressure: write more memory than the machine has RAM, ~1.25
 * x MemTotal (but never more than MemTotal plus 80% of the free swap: a
 * SKIP), into the region, let reclaim swap what does not fit out, then
 * check every page by the three interfaces (the invariant above, and for
 * shmem SEEK_DATA on every page: pagemap.rst names it as the interface
 * that tells pages present or swapped out from holes), and read every
 * page back, checking it again right before.  "# written in", "# checked
 * in" and "read back in" lines say how long each part took.
 *
 * For its duration vm.page-cluster is the kernel's default, 3 (swap
 * readahead of 8 pages), and the value found is put back afterwards,
 * whatever the result: the guest sets 0 so that a single-page test swaps
 * in exactly the page it touches, but reading back memory that does not
 * fit in RAM is what readahead is for, and the default is how the kernel
 * runs.  A sysctl that cannot be set is said in a "#" line; the scenario
 * holds the same contracts either way.
 *
 * The whole program of such a test: the scenario on backend @b, reported
 * as "<name of @b>_memory_pressure", timed (run_timed()), after the
 * environment banner (view_environment()).
 */
__noreturn void memory_pressure_main(struct backend *b);

#endif /* __RESIDENCY_UTIL_H */
