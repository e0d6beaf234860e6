// SPDX-License-Identifier: GPL-2.0
/*
 * lseek(SEEK_DATA/SEEK_HOLE) on shmem: which pages of a memfd or a tmpfs
 * file the kernel reports as data and which as holes.
 *
 * On shmem, a page is data when the page cache holds an uptodate folio for
 * it or a swap entry; everything else, including pages that fallocate()
 * reserved but nothing wrote yet, is a hole.  A hole also extends from
 * i_size on, so SEEK_HOLE never returns more than i_size, and any offset at
 * or past i_size, as well as any negative offset, fails with ENXIO.  (The
 * first tmpfs SEEK_DATA code, in 3.5, returned EINVAL for a negative
 * offset; the kernels this suite targets, 6.1 and later, check for it
 * before taking the inode lock and return ENXIO, which is what the
 * negative_offset_enxio subtest asserts.)
 *
 * Every behaviour is one subtest, run on a memfd and, where listed, on an
 * O_TMPFILE file of a tmpfs mount (/dev/shm or whichever tmpfs is mounted;
 * as root a private tmpfs is mounted in a private mount namespace if none
 * is found).  The swap subtests need an active swap area and skip without
 * one.
 *
 * The max_size subtests use the largest size ftruncate() accepts on a
 * memfd, found by trying: shmem's s_maxbytes, MAX_LFS_FILESIZE, which is
 * LLONG_MAX on 64-bit kernels.  Empty, such a file is one hole; with its
 * last byte written, SEEK_DATA from 0 must return the start of the last
 * page and SEEK_HOLE from there i_size.  Kernels without "mm: fix
 * mapping_seek_hole_data() overflow on last page" (2026) overflow the end
 * of that page, 0x8000000000000000, into a negative loff_t: SEEK_DATA
 * fails with ENXIO and SEEK_HOLE returns 0x8000000000000000.  A sweep of
 * sizes up to the start of that last page covers the rest of the range.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest.h"
#include "residency_util.h"

#define MAX_SEEK_DIAGS		8
/* the largest off_t; _FILE_OFFSET_BITS=64 makes off_t 64 bits */
#define OFF_T_MAX		((off_t)LLONG_MAX)

enum {
	BACKEND_MEMFD,
	BACKEND_TMPFS,
	NR_BACKENDS,
};

#define ON_MEMFD	(1U << BACKEND_MEMFD)
#define ON_TMPFS	(1U << BACKEND_TMPFS)
#define ON_BOTH		(ON_MEMFD | ON_TMPFS)

static struct backend backends[NR_BACKENDS] = {
	[BACKEND_MEMFD] = { .name = "memfd", .kind = MEM_MEMFD },
	[BACKEND_TMPFS] = { .name = "tmpfs", .kind = MEM_TMPFS,
			    .mount_if_none = true },
};

/* Number of seek mismatches reported by the running subtest */
static unsigned int seek_diags;

static size_t ps;

/* seek_is(), with at most MAX_SEEK_DIAGS mismatches printed per subtest */
static bool check_seek(int fd, off_t off, int whence, off_t want)
{
	if (seek_is(fd, off, whence, want, seek_diags >= MAX_SEEK_DIAGS))
		return true;
	seek_diags++;
	return false;
}

/*
 * What SEEK_HOLE from the start of each page says: 'H' where the page is a
 * hole, 'D' where it is data, for the pages below @size.
 */
static void observed_layout(int fd, off_t size, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && (off_t)(i * ps) < size; i++)
		buf[i] = lseek(fd, i * ps, SEEK_HOLE) == (off_t)(i * ps) ?
			 'H' : 'D';
	buf[i] = '\0';
}

/*
 * Check SEEK_DATA and SEEK_HOLE from the start and the middle of every
 * page, and from i_size, against @layout: one character per page, 'D' for
 * data and 'H' for a hole.  @size is i_size and may end inside the last
 * page of the layout.
 */
static bool check_layout(int fd, const char *layout, off_t size)
{
	size_t npages = strlen(layout);
	char observed[64];
	bool ok = true;
	size_t i, j, k;

	for (i = 0; i < npages; i++) {
		off_t offs[2] = { i * ps, i * ps + ps / 2 };

		for (k = 0; k < ARRAY_SIZE(offs); k++) {
			off_t off = offs[k];
			off_t want_data = -ENXIO, want_hole = size;

			if (off >= size)
				continue;
			for (j = i; j < npages; j++) {
				if (layout[j] == 'D') {
					want_data = j == i ? off : (off_t)(j * ps);
					break;
				}
			}
			if (layout[i] == 'H') {
				want_hole = off;
			} else {
				for (j = i + 1; j < npages; j++) {
					if (layout[j] == 'H') {
						want_hole = j * ps;
						break;
					}
				}
				if (want_hole > size)
					want_hole = size;
			}
			ok &= check_seek(fd, off, SEEK_DATA, want_data);
			ok &= check_seek(fd, off, SEEK_HOLE, want_hole);
		}
	}
	ok &= check_seek(fd, size, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, size, SEEK_HOLE, -ENXIO);

	if (!ok) {
		observed_layout(fd, size, observed, sizeof(observed));
		ksft_print_msg("layout (D=data, H=hole) expected %s, observed %s, i_size 0x%llx\n",
			       layout, observed, (unsigned long long)size);
	}
	return ok;
}

/*
 * Size the file to @size, unless 0, and write the pages of @layout marked
 * 'D'.  Returns KSFT_PASS, or KSFT_FAIL after printing what failed.
 */
static int setup_layout(int fd, off_t size, const char *layout)
{
	size_t i;
	int ret;

	if (size && ftruncate(fd, size))
		return setup_failed("ftruncate", errno);
	for (i = 0; layout[i]; i++) {
		if (layout[i] != 'D')
			continue;
		ret = pwrite_page(fd, i);
		if (ret)
			return setup_failed("pwrite", -ret);
	}
	return KSFT_PASS;
}

/*
 * Read page @idx with pread() and compare it with @fill, or with
 * page_byte(@idx) when @fill is negative.
 */
static bool check_page_content(int fd, size_t idx, int fill)
{
	unsigned char want = fill < 0 ? page_byte(idx) : (unsigned char)fill;
	unsigned char *buf = malloc(ps);
	bool ok = false;
	ssize_t ret;

	if (!buf) {
		ksft_print_msg("malloc failed\n");
		return false;
	}
	ret = pread(fd, buf, ps, idx * ps);
	if (ret == (ssize_t)ps)
		ok = page_filled_with(buf, idx, want, false);
	else
		ksft_print_msg("pread of page %zu returned %zd (%s)\n", idx, ret,
			       ret < 0 ? errno_name(errno) : "short");
	free(buf);
	return ok;
}

static bool set_size(int fd, off_t size, int *err)
{
	if (ftruncate(fd, size)) {
		*err = errno;
		return false;
	}
	return true;
}

/* Map the file sized to @npages with @prot, THP off; a KSFT_* code */
static int map_file(struct region *r, size_t npages, int prot)
{
	int ret = region_map(r, npages, prot, 0);

	return ret ? setup_failed(r->failed, -ret) : KSFT_PASS;
}

/* Print the pagemap entry and mincore state of each page of a mapping */
static void print_residency(const char *when, char *map, size_t npages)
{
	char desc[128];
	uint64_t entry;
	bool resident;
	size_t i;

	for (i = 0; i < npages; i++) {
		char *addr = map + i * ps;
		int ret = pagemap_read(-1, addr, &entry);

		if (ret) {
			ksft_print_msg("%s: page %zu: pagemap: %s\n", when, i,
				       errno_name(ret));
			continue;
		}
		ret = mincore_page(addr, &resident);
		ksft_print_msg("%s: page %zu: pagemap %s, mincore %s\n", when, i,
			       pagemap_describe(entry, desc, sizeof(desc)),
			       ret ? errno_name(ret) : resident ? "1" : "0");
	}
}

/* Subtests.  Each gets a fresh, empty file and returns a KSFT_* code. */

static int test_empty_file_enxio(struct region *r)
{
	int fd = r->fd;
	bool ok = true;

	ok &= check_seek(fd, 0, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, 0, SEEK_HOLE, -ENXIO);
	return pass_if(ok);
}

/* A file of @npages with the pages of @layout marked 'D' written */
static int layout_subtest(struct region *r, size_t npages, const char *layout)
{
	int code = setup_layout(r->fd, npages * ps, layout);

	if (code != KSFT_PASS)
		return code;
	return check_layout(r->fd, layout, npages * ps) ? KSFT_PASS : KSFT_FAIL;
}

static int test_written_page_is_data(struct region *r)
{
	return layout_subtest(r, 4, "HDHH");
}

static int test_fallocated_unwritten_is_hole(struct region *r)
{
	int fd = r->fd;
	struct stat st;
	bool ok = true;
	int code;

	code = setup_fallocate(fd, 0, 0, 4 * ps);
	if (code != KSFT_PASS)
		return code;
	if (fstat(fd, &st))
		return setup_failed("fstat", errno);
	if (st.st_size != (off_t)(4 * ps) || st.st_blocks * 512 < (off_t)(4 * ps)) {
		ksft_print_msg("after fallocate of 0x%zx bytes: st_size 0x%llx, st_blocks %lld\n",
			       4 * ps, (unsigned long long)st.st_size,
			       (long long)st.st_blocks);
		ok = false;
	}
	ok &= check_layout(fd, "HHHH", 4 * ps);
	return pass_if(ok);
}

static int test_fallocate_then_write_one_page(struct region *r)
{
	int fd = r->fd;
	const char *layout = "HHDH";
	int code;

	code = setup_fallocate(fd, 0, 0, 4 * ps);
	if (code != KSFT_PASS)
		return code;
	code = setup_layout(fd, 0, layout);
	if (code != KSFT_PASS)
		return code;
	return check_layout(fd, layout, 4 * ps) ? KSFT_PASS : KSFT_FAIL;
}

static int test_read_of_fallocated_page_stays_hole(struct region *r)
{
	int fd = r->fd;
	bool ok = true;
	size_t i;
	int code;

	code = setup_fallocate(fd, 0, 0, 4 * ps);
	if (code != KSFT_PASS)
		return code;
	for (i = 0; i < 4; i++)
		ok &= check_page_content(fd, i, 0);
	ok &= check_layout(fd, "HHHH", 4 * ps);
	return pass_if(ok);
}

static int test_punched_hole_is_hole(struct region *r)
{
	int fd = r->fd;
	struct stat st;
	bool ok = true;
	int code;

	code = setup_layout(fd, 0, "DDDD");
	if (code != KSFT_PASS)
		return code;
	code = setup_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       ps, 2 * ps);
	if (code != KSFT_PASS)
		return code;
	if (fstat(fd, &st))
		return setup_failed("fstat", errno);
	if (st.st_size != (off_t)(4 * ps)) {
		ksft_print_msg("punching a hole changed st_size to 0x%llx\n",
			       (unsigned long long)st.st_size);
		ok = false;
	}
	ok &= check_layout(fd, "DHHD", 4 * ps);
	ok &= check_page_content(fd, 0, -1);
	ok &= check_page_content(fd, 1, 0);
	ok &= check_page_content(fd, 2, 0);
	ok &= check_page_content(fd, 3, -1);
	return pass_if(ok);
}

static int test_mmap_read_fault_is_data(struct region *r)
{
	bool ok = true;
	int code;
	char c;

	/* no THP: a shmem THP would turn the whole file into data */
	code = map_file(r, 4, PROT_READ);
	if (code != KSFT_PASS)
		return code;
	c = region_read(r, 2);
	if (c) {
		ksft_print_msg("read fault on a hole returned 0x%02x\n", c);
		ok = false;
	}
	ok &= check_layout(r->fd, "HHDH", 4 * ps);
	if (!ok)
		print_residency("after read fault", r->addr, 4);
	return pass_if(ok);
}

static int test_populate_read_is_data(struct region *r)
{
	bool ok = true;
	int code;

	code = map_file(r, 4, PROT_READ);
	if (code != KSFT_PASS)
		return code;
	if (madvise(region_page(r, 1), 2 * ps, MADV_POPULATE_READ)) {
		if (errno == EINVAL)
			return skip("MADV_POPULATE_READ not supported (EINVAL)");
		return setup_failed("madvise(MADV_POPULATE_READ)", errno);
	}
	ok &= check_layout(r->fd, "HDDH", 4 * ps);
	if (!ok)
		print_residency("after MADV_POPULATE_READ", r->addr, 4);
	return pass_if(ok);
}

static int test_read_of_hole_stays_hole(struct region *r)
{
	int fd = r->fd;
	bool ok = true;
	size_t i;
	int err;

	if (!set_size(fd, 4 * ps, &err))
		return setup_failed("ftruncate", err);
	for (i = 0; i < 4; i++)
		ok &= check_page_content(fd, i, 0);
	ok &= check_layout(fd, "HHHH", 4 * ps);
	return pass_if(ok);
}

static int test_offset_inside_page(struct region *r)
{
	int fd = r->fd;
	bool ok = true;
	int code;

	code = setup_layout(fd, 4 * ps, "HDHH");
	if (code != KSFT_PASS)
		return code;

	/* inside the hole before the data: the data page's start */
	ok &= check_seek(fd, 1, SEEK_DATA, ps);
	ok &= check_seek(fd, ps - 1, SEEK_DATA, ps);
	ok &= check_seek(fd, ps / 2, SEEK_HOLE, ps / 2);
	/* inside the data page: the offset itself / the next page boundary */
	ok &= check_seek(fd, ps + 1, SEEK_DATA, ps + 1);
	ok &= check_seek(fd, 2 * ps - 1, SEEK_DATA, 2 * ps - 1);
	ok &= check_seek(fd, ps + 1, SEEK_HOLE, 2 * ps);
	ok &= check_seek(fd, 2 * ps - 1, SEEK_HOLE, 2 * ps);
	/* inside the hole after it: no more data */
	ok &= check_seek(fd, 2 * ps + 1, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, 2 * ps + 1, SEEK_HOLE, 2 * ps + 1);
	return pass_if(ok);
}

static int test_sparse_data_in_last_page_only(struct region *r)
{
	int fd = r->fd;
	const char *layout = "HHHHHHHD";
	bool ok = true;
	int code;

	code = setup_layout(fd, 8 * ps, layout);
	if (code != KSFT_PASS)
		return code;
	ok &= check_seek(fd, 0, SEEK_DATA, 7 * ps);
	ok &= check_seek(fd, 0, SEEK_HOLE, 0);
	ok &= check_seek(fd, 7 * ps, SEEK_HOLE, 8 * ps);
	ok &= check_layout(fd, layout, 8 * ps);
	return pass_if(ok);
}

static int test_seek_hole_in_data_returns_isize(struct region *r)
{
	int fd = r->fd;
	off_t size = 3 * ps + 100;
	char *buf;
	bool ok = true;
	ssize_t ret;

	/* data up to an i_size that ends inside the last page */
	buf = malloc(size);
	if (!buf)
		return setup_failed("malloc", ENOMEM);
	memset(buf, 0xa5, size);
	ret = pwrite(fd, buf, size, 0);
	free(buf);
	if (ret != size)
		return setup_failed("pwrite", ret < 0 ? errno : EIO);

	ok &= check_seek(fd, 0, SEEK_HOLE, size);
	ok &= check_seek(fd, ps + 7, SEEK_HOLE, size);
	ok &= check_seek(fd, 3 * ps, SEEK_HOLE, size);
	ok &= check_seek(fd, size - 1, SEEK_HOLE, size);
	ok &= check_seek(fd, size - 1, SEEK_DATA, size - 1);
	ok &= check_layout(fd, "DDDD", size);
	return pass_if(ok);
}

/* Row setup: a file of two written pages */
static int setup_two_pages(struct region *r)
{
	return setup_layout(r->fd, 0, "DD");
}

static int test_seek_at_eof_enxio(struct region *r)
{
	int fd = r->fd;
	bool ok = true;

	ok &= check_seek(fd, 2 * ps, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, 2 * ps, SEEK_HOLE, -ENXIO);
	/* the last byte is still inside the file */
	ok &= check_seek(fd, 2 * ps - 1, SEEK_DATA, 2 * ps - 1);
	ok &= check_seek(fd, 2 * ps - 1, SEEK_HOLE, 2 * ps);
	return pass_if(ok);
}

static int test_seek_past_eof_enxio(struct region *r)
{
	int fd = r->fd;
	bool ok = true;

	ok &= check_seek(fd, 2 * ps + 1, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, 2 * ps + 1, SEEK_HOLE, -ENXIO);
	ok &= check_seek(fd, 64 * ps, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, 64 * ps, SEEK_HOLE, -ENXIO);
	ok &= check_seek(fd, (off_t)1 << 40, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, (off_t)1 << 40, SEEK_HOLE, -ENXIO);
	return pass_if(ok);
}

static int test_negative_offset_enxio(struct region *r)
{
	int fd = r->fd;
	bool ok = true;

	ok &= check_seek(fd, -1, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, -1, SEEK_HOLE, -ENXIO);
	ok &= check_seek(fd, -(off_t)ps, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, -(off_t)ps, SEEK_HOLE, -ENXIO);
	return pass_if(ok);
}

static int test_alternating_extents(struct region *r)
{
	return layout_subtest(r, 8, "DHDDHHDH");
}

/* The file position after @what must be @want */
static bool check_position(int fd, const char *what, off_t want)
{
	off_t pos = lseek(fd, 0, SEEK_CUR);

	if (pos == want)
		return true;
	ksft_print_msg("position after %s is 0x%llx, expected 0x%llx\n", what,
		       (long long)pos, (long long)want);
	return false;
}

static int test_seek_sets_file_position(struct region *r)
{
	int fd = r->fd;
	bool ok = true;
	int code;

	code = setup_layout(fd, 4 * ps, "HHDH");
	if (code != KSFT_PASS)
		return code;

	ok &= check_seek(fd, 0, SEEK_DATA, 2 * ps);
	ok &= check_position(fd, "SEEK_DATA", 2 * ps);
	ok &= check_seek(fd, 2 * ps, SEEK_HOLE, 3 * ps);
	ok &= check_position(fd, "SEEK_HOLE", 3 * ps);
	/* a failing SEEK_DATA must leave the position alone */
	ok &= check_seek(fd, 3 * ps, SEEK_DATA, -ENXIO);
	ok &= check_position(fd, "failed SEEK_DATA", 3 * ps);
	return pass_if(ok);
}

/*
 * Map an 8-page file MAP_SHARED and write pages 2-5 through the mapping,
 * leaving the others holes.  A KSFT_* code.
 */
static int map_and_dirty_middle(struct region *r)
{
	size_t i;
	int code;

	code = map_file(r, 8, PROT_READ | PROT_WRITE);
	for (i = 2; code == KSFT_PASS && i < 6; i++)
		region_write(r, i);
	return code;
}

static bool check_middle_content(int fd)
{
	bool ok = true;
	size_t i;

	for (i = 0; i < 8; i++)
		ok &= check_page_content(fd, i, i >= 2 && i < 6 ? -1 : 0);
	return ok;
}

/*
 * MADV_PAGEOUT on written pages, whatever it achieves (with no swap, shmem
 * pages get unmapped but stay in the page cache), must not lose data.
 */
static int test_pageout_keeps_data(struct region *r)
{
	unsigned long swap_kb = 0;
	bool ok = true;
	int code;

	code = map_and_dirty_middle(r);
	if (code != KSFT_PASS)
		return code;
	if (madvise(region_page(r, 2), 4 * ps, MADV_PAGEOUT)) {
		if (errno == EINVAL)
			return skip("MADV_PAGEOUT not supported (EINVAL)");
		return setup_failed("madvise(MADV_PAGEOUT)", errno);
	}
	if (!smaps_vma_field_kb(r->addr, "Swap", &swap_kb, NULL))
		ksft_print_msg("after MADV_PAGEOUT: smaps Swap: %lu kB (swap %s)\n",
			       swap_kb, swap_present() ? "on" : "off");
	print_residency("after MADV_PAGEOUT", region_page(r, 2), 1);

	ok &= check_layout(r->fd, "HHDDDDHH", 8 * ps);
	ok &= check_middle_content(r->fd);
	return pass_if(ok);
}

/*
 * Pages moved to swap are still data: SEEK_DATA finds them without
 * swapping them in, and their contents come back intact.
 */
static int test_swapped_out_pages_are_data(struct region *r)
{
	unsigned long swap_kb, after_kb;
	bool ok = true;
	int code;

	if (!swap_present())
		return skip("no swap configured");
	code = map_and_dirty_middle(r);
	if (code == KSFT_PASS)
		code = region_pageout(r, 2, 4);
	if (code != KSFT_PASS)
		return code;
	swap_kb = region_smaps_kb(r, "Swap");
	ksft_print_msg("paged out: smaps Swap: %lu kB\n", swap_kb);
	print_residency("after page-out", region_page(r, 2), 1);

	ok &= check_layout(r->fd, "HHDDDDHH", 8 * ps);

	/* seeking must not have swapped anything in */
	after_kb = region_smaps_kb(r, "Swap");
	if (after_kb < swap_kb) {
		ksft_print_msg("smaps Swap: dropped from %lu to %lu kB while seeking\n",
			       swap_kb, after_kb);
		ok = false;
	}

	ok &= check_middle_content(r->fd);
	return pass_if(ok);
}

/*
 * The largest file size ftruncate() accepts on a memfd, found once by
 * probe_max_size(); 0 when it could not be found, with the reason in
 * max_size_skip.  On a 64-bit kernel shmem's s_maxbytes is
 * MAX_LFS_FILESIZE, LLONG_MAX: not a multiple of the page size, so the
 * last page of such a file ends one byte past the largest loff_t.
 */
static off_t max_size;
static char max_size_skip[160];

static void probe_max_size(void)
{
	off_t found;
	int fd;

	if (!fsize_unlimited(max_size_skip, sizeof(max_size_skip)))
		return;

	fd = memfd_new("shmem_lseek_max");
	if (fd < 0) {
		snprintf(max_size_skip, sizeof(max_size_skip),
			 "memfd_create failed: %s", errno_name(fd));
		return;
	}
	found = file_max_size(fd);
	close(fd);
	if (found <= (off_t)ps) {
		snprintf(max_size_skip, sizeof(max_size_skip),
			 "could not find the largest size ftruncate accepts: %s",
			 found < 0 ? errno_name((int)-found) : "too small");
		return;
	}
	max_size = found;
	ksft_print_msg(
		"largest size ftruncate accepts on a memfd: 0x%llx%s, its last page starts at 0x%llx\n",
		(unsigned long long)max_size,
		max_size == OFF_T_MAX ? " (the largest off_t)" : "",
		(unsigned long long)last_page_start(max_size));
}

/* Size the file to max_size and, with @last_byte, write its last byte */
static int setup_max_size(int fd, bool last_byte)
{
	char c = 0x6b, back = 0;
	ssize_t ret;
	int err;

	if (!max_size)
		return skip("%s", max_size_skip);
	if (!set_size(fd, max_size, &err))
		return setup_failed("ftruncate to the largest size", err);
	if (!last_byte)
		return KSFT_PASS;
	ret = pwrite(fd, &c, 1, max_size - 1);
	if (ret != 1)
		return setup_failed("pwrite of the last byte", ret < 0 ? errno : EIO);
	ret = pread(fd, &back, 1, max_size - 1);
	if (ret != 1 || back != c) {
		ksft_print_msg("pread of the last byte returned %zd, byte 0x%02x\n",
			       ret, (unsigned char)back);
		return KSFT_FAIL;
	}
	return KSFT_PASS;
}

/* @check on a file of the largest size, with its last byte with @last_byte */
static int max_size_subtest(struct region *r, bool last_byte,
			    bool (*check)(int fd))
{
	int code = setup_max_size(r->fd, last_byte);

	if (code != KSFT_PASS)
		return code;
	return check(r->fd) ? KSFT_PASS : KSFT_FAIL;
}

/* ftruncate(@fd, @size) must fail with @want_err */
static bool ftruncate_fails(int fd, off_t size, int want_err)
{
	int ret;

	errno = 0;
	ret = ftruncate(fd, size);
	if (ret == -1 && errno == want_err)
		return true;
	ksft_print_msg("ftruncate to %s0x%llx: %s, expected %s\n",
		       size < 0 ? "-" : "",
		       (unsigned long long)(size < 0 ? -size : size),
		       ret ? errno_name(errno) : "success",
		       errno_name(want_err));
	return false;
}

/*
 * The largest size ftruncate accepts is stable: the file takes it, stays
 * sparse, and refuses one byte more with EFBIG (a negative size with
 * EINVAL).  On a 64-bit kernel it is MAX_LFS_FILESIZE, LLONG_MAX.
 */
static int test_max_size_ftruncate(struct region *r)
{
	int fd = r->fd;
	struct stat st;
	bool ok = true;
	int code;

	code = setup_max_size(fd, false);
	if (code != KSFT_PASS)
		return code;
	if (fstat(fd, &st))
		return setup_failed("fstat", errno);
	if (st.st_size != max_size || st.st_blocks) {
		ksft_print_msg("after ftruncate to 0x%llx: st_size 0x%llx, st_blocks %lld\n",
			       (unsigned long long)max_size,
			       (unsigned long long)st.st_size,
			       (long long)st.st_blocks);
		ok = false;
	}
	if (sizeof(long) == 8 && max_size != OFF_T_MAX) {
		ksft_print_msg("largest size 0x%llx, expected MAX_LFS_FILESIZE 0x%llx\n",
			       (unsigned long long)max_size,
			       (unsigned long long)OFF_T_MAX);
		ok = false;
	}
	/* one byte more, where off_t has room for it, and a negative size */
	if (max_size < OFF_T_MAX)
		ok &= ftruncate_fails(fd, max_size + 1, EFBIG);
	ok &= ftruncate_fails(fd, -1, EINVAL);
	return pass_if(ok);
}

/* An empty file of the largest size has no data anywhere */
static bool empty_seek_data_enxio(int fd)
{
	bool ok = true;

	ok &= check_seek(fd, 0, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, max_size / 2, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, last_page_start(max_size), SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, max_size - 1, SEEK_DATA, -ENXIO);
	return ok;
}

static int test_max_size_empty_seek_data_enxio(struct region *r)
{
	return max_size_subtest(r, false, empty_seek_data_enxio);
}

/* ... and every offset below i_size is a hole */
static bool empty_seek_hole_at_offset(int fd)
{
	off_t offs[4];
	bool ok = true;
	size_t i;

	offs[0] = 0;
	offs[1] = max_size / 2;
	offs[2] = last_page_start(max_size);
	offs[3] = max_size - 1;
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		ok &= check_seek(fd, offs[i], SEEK_HOLE, offs[i]);
	return ok;
}

static int test_max_size_empty_seek_hole_at_offset(struct region *r)
{
	return max_size_subtest(r, false, empty_seek_hole_at_offset);
}

/* One byte written at max_size - 1: SEEK_DATA finds its page */
static bool last_byte_seek_data(int fd)
{
	off_t last;
	bool ok = true;

	last = last_page_start(max_size);
	ok &= check_seek(fd, 0, SEEK_DATA, last);
	ok &= check_seek(fd, max_size / 2, SEEK_DATA, last);
	ok &= check_seek(fd, last, SEEK_DATA, last);
	ok &= check_seek(fd, max_size - 1, SEEK_DATA, max_size - 1);
	/* the hole before it */
	ok &= check_seek(fd, 0, SEEK_HOLE, 0);
	ok &= check_seek(fd, last - 1, SEEK_HOLE, last - 1);
	return ok;
}

static int test_max_size_last_byte_seek_data(struct region *r)
{
	return max_size_subtest(r, true, last_byte_seek_data);
}

/* ... and SEEK_HOLE from inside that page returns i_size */
static bool last_byte_seek_hole_isize(int fd)
{
	bool ok = true;

	ok &= check_seek(fd, last_page_start(max_size), SEEK_HOLE, max_size);
	ok &= check_seek(fd, max_size - 1, SEEK_HOLE, max_size);
	return ok;
}

static int test_max_size_last_byte_seek_hole_isize(struct region *r)
{
	return max_size_subtest(r, true, last_byte_seek_hole_isize);
}

/* ... while seeking from i_size itself fails */
static bool seek_at_isize_enxio(int fd)
{
	bool ok = true;

	ok &= check_seek(fd, max_size, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, max_size, SEEK_HOLE, -ENXIO);
	return ok;
}

static int test_max_size_seek_at_isize_enxio(struct region *r)
{
	return max_size_subtest(r, true, seek_at_isize_enxio);
}

/*
 * Sizes from 0 up to the start of the last page a file of the largest size
 * has (that page is the business of the max_size subtests): empty, the
 * file is one hole; with its last byte written, the data is the last page.
 * The same file is truncated to 0 and grown again for each size.
 */
static int test_sparse_size_sweep_last_byte(struct region *r)
{
	int fd = r->fd;
	static const unsigned long long fixed[] = {
		0, 1, 2, 4095, 4096, 4097, 8192, 65537, 1ULL << 20,
		(1ULL << 31) - 1, 1ULL << 31, 1ULL << 32, (1ULL << 32) + 1,
		1ULL << 40, (1ULL << 44) + 12345, 1ULL << 52, 1ULL << 62,
	};
	off_t sizes[ARRAY_SIZE(fixed) + 3];
	size_t i, n = 0, fails = 0;
	bool ok = true;
	char c = 0x3c;
	off_t size, last, top;
	int err;

	if (!max_size)
		return skip("%s", max_size_skip);
	top = last_page_start(max_size);
	for (i = 0; i < ARRAY_SIZE(fixed); i++)
		if (fixed[i] < (unsigned long long)top)
			sizes[n++] = (off_t)fixed[i];
	sizes[n++] = top - ps + 1;
	sizes[n++] = top - 1;
	sizes[n++] = top;

	for (i = 0; i < n; i++) {
		bool size_ok = true;

		size = sizes[i];
		if (!set_size(fd, 0, &err) || !set_size(fd, size, &err))
			return setup_failed("ftruncate", err);
		if (!size) {
			size_ok &= check_seek(fd, 0, SEEK_DATA, -ENXIO);
			size_ok &= check_seek(fd, 0, SEEK_HOLE, -ENXIO);
			goto next;
		}
		last = last_page_start(size);
		size_ok &= check_seek(fd, 0, SEEK_DATA, -ENXIO);
		size_ok &= check_seek(fd, 0, SEEK_HOLE, 0);
		if (pwrite(fd, &c, 1, size - 1) != 1)
			return setup_failed("pwrite of the last byte", errno);
		size_ok &= check_seek(fd, 0, SEEK_DATA, last);
		size_ok &= check_seek(fd, last, SEEK_HOLE, size);
		size_ok &= check_seek(fd, size - 1, SEEK_HOLE, size);
		size_ok &= check_seek(fd, size, SEEK_DATA, -ENXIO);
		size_ok &= check_seek(fd, size, SEEK_HOLE, -ENXIO);
next:
		if (!size_ok && fails++ < MAX_SEEK_DIAGS)
			ksft_print_msg("the checks above were for i_size 0x%llx\n",
				       (unsigned long long)size);
		ok &= size_ok;
	}
	ksft_print_msg("%zu sizes from 0x0 to 0x%llx, %zu failed\n", n,
		       (unsigned long long)top, fails);
	return pass_if(ok);
}

/* Truncating a file with data to 0 leaves nothing to seek to */
static int test_truncated_to_zero_enxio(struct region *r)
{
	int fd = r->fd;
	struct stat st;
	bool ok = true;
	int err;

	ok &= check_seek(fd, 0, SEEK_DATA, 0);
	if (!set_size(fd, 0, &err))
		return setup_failed("ftruncate to 0", err);
	if (fstat(fd, &st))
		return setup_failed("fstat", errno);
	if (st.st_size || st.st_blocks) {
		ksft_print_msg("after ftruncate to 0: st_size 0x%llx, st_blocks %lld\n",
			       (unsigned long long)st.st_size,
			       (long long)st.st_blocks);
		ok = false;
	}
	ok &= check_seek(fd, 0, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, 0, SEEK_HOLE, -ENXIO);
	ok &= check_seek(fd, ps, SEEK_DATA, -ENXIO);
	ok &= check_seek(fd, ps, SEEK_HOLE, -ENXIO);
	/* grown again, the old pages are gone: holes */
	if (!set_size(fd, 2 * ps, &err))
		return setup_failed("ftruncate", err);
	ok &= check_layout(fd, "HH", 2 * ps);
	return pass_if(ok);
}

/* Each subtest gets a fresh, empty file of its backend */
static const struct subtest subtests[] = {
	{ "empty_file_enxio", test_empty_file_enxio, ON_BOTH },
	{ "written_page_is_data", test_written_page_is_data, ON_BOTH },
	{ "fallocated_unwritten_is_hole", test_fallocated_unwritten_is_hole, ON_BOTH },
	{ "fallocate_then_write_one_page", test_fallocate_then_write_one_page, ON_MEMFD },
	{ "read_of_fallocated_page_stays_hole", test_read_of_fallocated_page_stays_hole,
	  ON_MEMFD },
	{ "punched_hole_is_hole", test_punched_hole_is_hole, ON_BOTH },
	{ "mmap_read_fault_is_data", test_mmap_read_fault_is_data, ON_BOTH },
	{ "populate_read_is_data", test_populate_read_is_data, ON_MEMFD },
	{ "read_of_hole_stays_hole", test_read_of_hole_stays_hole, ON_BOTH },
	{ "offset_inside_page", test_offset_inside_page, ON_MEMFD },
	{ "sparse_data_in_last_page_only", test_sparse_data_in_last_page_only, ON_MEMFD },
	{ "seek_hole_in_data_returns_isize", test_seek_hole_in_data_returns_isize, ON_MEMFD },
	{ "seek_at_eof_enxio", test_seek_at_eof_enxio, ON_MEMFD, setup_two_pages },
	{ "seek_past_eof_enxio", test_seek_past_eof_enxio, ON_MEMFD, setup_two_pages },
	{ "negative_offset_enxio", test_negative_offset_enxio, ON_MEMFD, setup_two_pages },
	{ "alternating_extents", test_alternating_extents, ON_MEMFD },
	{ "seek_sets_file_position", test_seek_sets_file_position, ON_MEMFD },
	{ "pageout_keeps_data", test_pageout_keeps_data, ON_BOTH },
	{ "swapped_out_pages_are_data", test_swapped_out_pages_are_data, ON_BOTH },
	{ "max_size_ftruncate", test_max_size_ftruncate, ON_MEMFD },
	{ "max_size_empty_seek_data_enxio", test_max_size_empty_seek_data_enxio,
	  ON_MEMFD },
	{ "max_size_empty_seek_hole_at_offset", test_max_size_empty_seek_hole_at_offset,
	  ON_MEMFD },
	{ "max_size_last_byte_seek_data", test_max_size_last_byte_seek_data, ON_MEMFD },
	{ "max_size_last_byte_seek_hole_isize", test_max_size_last_byte_seek_hole_isize,
	  ON_MEMFD },
	{ "max_size_seek_at_isize_enxio", test_max_size_seek_at_isize_enxio, ON_MEMFD },
	{ "sparse_size_sweep_last_byte", test_sparse_size_sweep_last_byte, ON_MEMFD },
	{ "truncated_to_zero_enxio", test_truncated_to_zero_enxio, ON_BOTH, setup_two_pages },
};

/* Run subtest @t on a fresh, empty file */
static int run_counted(const struct subtest *t, struct region *r)
{
	seek_diags = 0;
	return t->fn(r);
}

static const struct suite suite = {
	SUITE_TABLES(subtests, backends),
	.environment = probe_max_size,
	.run = run_counted,
};

int main(void)
{
	ps = sys_pagesize();
	suite_main(&suite);
}
