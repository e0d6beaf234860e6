// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the page-residency selftests; see vm_util.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "vm_util.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC	0x01021994
#endif

#define SMAPS_PATH	"/proc/self/smaps"
#define PAGEMAP_PATH	"/proc/self/pagemap"
/* long enough for a VMA header with a PATH_MAX file name */
#define SMAPS_LINE_MAX	4352

size_t psize(void)
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

int pagemap_open(void)
{
	int fd = open(PAGEMAP_PATH, O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int pagemap_read(int fd, const void *addr, uint64_t *entry)
{
	off_t off = (off_t)((uintptr_t)addr / psize()) * (off_t)sizeof(*entry);
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
	int bit;
	const char *name;
} pagemap_flag_names[] = {
	{ PM_PRESENT, "PRESENT" },
	{ PM_SWAP, "SWAP" },
	{ PM_FILE, "FILE" },
	{ PM_MMAP_EXCLUSIVE, "EXCLUSIVE" },
	{ PM_UFFD_WP, "UFFD_WP" },
	{ PM_GUARD_REGION, "GUARD" },
	{ PM_SOFT_DIRTY, "SOFT_DIRTY" },
};

const char *pagemap_describe(uint64_t entry, char *buf, size_t len)
{
	size_t used;
	bool any = false;
	size_t i;

	if (!len)
		return buf;

	used = snprintf(buf, len, "0x%016llx ", (unsigned long long)entry);
	for (i = 0; i < ARRAY_SIZE(pagemap_flag_names); i++) {
		if (!pagemap_entry_has(entry, pagemap_flag_names[i].bit))
			continue;
		if (used < len)
			used += snprintf(buf + used, len - used, "%s%s",
					 any ? "|" : "",
					 pagemap_flag_names[i].name);
		any = true;
	}
	if (!any && used < len)
		used += snprintf(buf + used, len - used, "none");

	if (used >= len)
		return buf;
	if (pagemap_entry_has(entry, PM_PRESENT)) {
		snprintf(buf + used, len - used, " pfn=0x%llx",
			 (unsigned long long)(entry & PM_PFN_MASK));
	} else if (pagemap_entry_has(entry, PM_SWAP)) {
		snprintf(buf + used, len - used,
			 " swp_type=%llu swp_offset=0x%llx",
			 (unsigned long long)(entry & PM_SWAP_TYPE_MASK),
			 (unsigned long long)((entry & PM_PFN_MASK) >>
					      PM_SWAP_OFFSET_SHIFT));
	}
	return buf;
}

int mincore_range(const void *addr, size_t len, unsigned char *vec)
{
	if (mincore((void *)addr, len, vec))
		return -errno;
	return 0;
}

int mincore_page(const void *addr, bool *resident)
{
	uintptr_t page = (uintptr_t)addr & ~(uintptr_t)(psize() - 1);
	unsigned char vec = 0;
	int ret;

	ret = mincore_range((const void *)page, psize(), &vec);
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

int smaps_vma_field_kb(const void *addr, const char *field,
		       unsigned long *kb, unsigned long *vma_kb)
{
	unsigned long start, end, value;
	size_t field_len = strlen(field);
	bool in_vma = false;
	char line[SMAPS_LINE_MAX];
	int ret = -ENOENT;
	FILE *fp;

	fp = fopen(SMAPS_PATH, "re");
	if (!fp)
		return -errno;

	while (fgets(line, sizeof(line), fp)) {
		if (smaps_vma_header(line, &start, &end)) {
			if (in_vma)
				break;	/* field missing from our VMA */
			in_vma = (uintptr_t)addr >= start &&
				 (uintptr_t)addr < end;
			if (in_vma && vma_kb)
				*vma_kb = (end - start) / 1024;
			continue;
		}
		if (!in_vma || strncmp(line, field, field_len) ||
		    line[field_len] != ':')
			continue;
		if (sscanf(line + field_len + 1, "%lu", &value) == 1) {
			*kb = value;
			ret = 0;
		} else {
			ret = -EINVAL;
		}
		break;
	}
	fclose(fp);
	return ret;
}

int pageout_range(void *addr, size_t len, int retries,
		  unsigned long *swap_kb)
{
	unsigned long before, now, vma_kb, want;
	int attempt;
	int ret;

	ret = smaps_vma_field_kb(addr, "Swap", &before, &vma_kb);
	if (ret)
		return ret;
	want = before + len / 1024;
	if (want > vma_kb)
		want = vma_kb;
	now = before;

	/*
	 * A page that is still in another CPU's LRU add batch is skipped by
	 * MADV_PAGEOUT, so trying again can help.  A page whose write-out to
	 * swap failed stays unmapped (shmem) or mapped (anon) and a retry
	 * does not change that, so the loop is bounded.
	 */
	for (attempt = 0; attempt <= retries; attempt++) {
		if (madvise(addr, len, MADV_PAGEOUT)) {
			ret = -errno;
			break;
		}
		ret = smaps_vma_field_kb(addr, "Swap", &now, NULL);
		if (ret)
			break;
		if (now >= want)
			break;
		ret = -EAGAIN;
		if (attempt < retries)
			usleep(1000);
	}
	if (swap_kb)
		*swap_kb = now;
	return ret;
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

/* Can @dir hold O_TMPFILE files, and is it on a tmpfs? */
static bool tmpfs_dir_usable(const char *dir)
{
	struct statfs sfs;
	bool ok;
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
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

const char *guard_einval_reason(void)
{
	bool anon_ok;
	char *addr;

	addr = mmap(NULL, psize(), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED)
		return "MADV_GUARD_INSTALL returns EINVAL";
	anon_ok = !madvise(addr, psize(), MADV_GUARD_INSTALL);
	munmap(addr, psize());
	if (anon_ok)
		return "MADV_GUARD_INSTALL on shmem returns EINVAL: guard regions supported on anonymous memory only";
	return "MADV_GUARD_INSTALL returns EINVAL: kernel lacks guard regions";
}

int clear_softdirty(void)
{
	static const char ctrl[] = "4";
	ssize_t ret;
	int fd;

	fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = write(fd, ctrl, strlen(ctrl));
	if (ret < 0)
		ret = -errno;
	else if (ret != (ssize_t)strlen(ctrl))
		ret = -EIO;
	else
		ret = 0;
	close(fd);
	return (int)ret;
}

bool softdirty_supported(void)
{
	size_t len = psize();
	bool supported = false;
	char line[SMAPS_LINE_MAX];
	unsigned long start, end;
	bool in_vma = false;
	char *addr;
	FILE *fp;

	addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED)
		return false;

	fp = fopen(SMAPS_PATH, "re");
	if (fp) {
		while (fgets(line, sizeof(line), fp)) {
			if (smaps_vma_header(line, &start, &end)) {
				if (in_vma)
					break;
				in_vma = (uintptr_t)addr >= start &&
					 (uintptr_t)addr < end;
				continue;
			}
			if (in_vma && !strncmp(line, "VmFlags:", 8)) {
				supported = !!strstr(line, " sd");
				break;
			}
		}
		fclose(fp);
	}
	munmap(addr, len);
	return supported;
}

int proc_field_kb(const char *path, const char *field, unsigned long *kb)
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
		ret = sscanf(line + field_len + 1, "%lu", kb) == 1 ? 0 : -EINVAL;
		break;
	}
	fclose(fp);
	return ret;
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
