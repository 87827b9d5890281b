/* examples/outpath.c - the output-path guard (see outpath.h). */
#define _XOPEN_SOURCE 700
#include "outpath.h"
#include "../asr.h"
#include <stb/stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int same(const struct stat *a, const struct stat *b) { return a->st_dev == b->st_dev && a->st_ino == b->st_ino; }

/* The realpath of `out` if it exists, else of its nearest existing parent folder: where a
 * file written at `out` would live. NULL only when out of memory. */
static char *anchor(const char *out) {
  size_t n = strlen(out);
  char *p = (char *)malloc(n + 1), *r = NULL, *slash;
  if (!p) return NULL;
  memcpy(p, out, n + 1);
  while (!(r = realpath(p, NULL))) {
    while (n > 1 && p[n - 1] == '/') p[--n] = 0;     /* "a/b/" -> "a/b" */
    slash = strrchr(p, '/');
    if (!slash) {                                     /* "name": the current folder */
      r = realpath(".", NULL);
      break;
    }
    if (slash == p) {                                 /* "/name": the root */
      r = realpath("/", NULL);
      break;
    }
    *slash = 0;
    n = (size_t)(slash - p);
  }
  free(p);
  return r;
}

/* 1 when the resolved path p, or one of its parent folders, is the folder `dir`. */
static int inside(const char *resolved, const struct stat *dir) {
  size_t n = strlen(resolved);
  char *p = (char *)malloc(n + 1), *slash;
  int found = 0;
  if (!p) return 0;
  memcpy(p, resolved, n + 1);
  for (;;) {
    struct stat st;
    if (stat(p, &st) == 0 && same(&st, dir)) {
      found = 1;
      break;
    }
    slash = strrchr(p, '/');
    if (!slash || !p[1]) break;                       /* "/" was the last one */
    if (slash == p) p[1] = 0;
    else *slash = 0;
  }
  free(p);
  return found;
}

/* 1 when a file of the folder `dir` (at any depth up to `depth` more levels, not following
 * symbolic links) is the file `f`: a hard link to a recording of a data folder, made
 * outside it. Only called for an output with more than one link. */
static int holds(const char *dir, const struct stat *f, int depth) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int found = 0;
  if (!d) return 0;
  while (!found && (e = readdir(d)) != NULL) {
    struct stat st;
    size_t n = strlen(dir) + strlen(e->d_name) + 2;
    char *path;
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !(path = (char *)malloc(n))) continue;
    snprintf(path, n, "%s/%s", dir, e->d_name);
    if (lstat(path, &st) == 0) {
      if (S_ISREG(st.st_mode) && same(&st, f)) found = 1;
      else if (S_ISDIR(st.st_mode) && depth > 0) found = holds(path, f, depth - 1);
    }
    free(path);
  }
  closedir(d);
  return found;
}

int op_check_only(const char *prog, const char *out, const char *const *in, int n_in) {
  struct stat so, si;
  int have_out = out && stat(out, &so) == 0, i, r = 0;
  char *where = NULL;
  if (!out) return 0;
  for (i = 0; i < n_in && !r; i++) {
    if (!in[i] || stat(in[i], &si) != 0) continue;
    if (S_ISDIR(si.st_mode)) {
      if (!where && !(where = anchor(out))) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 2;
      }
      if (inside(where, &si) || (have_out && S_ISREG(so.st_mode) && so.st_nlink > 1 && holds(in[i], &so, 16))) {
        fprintf(stderr, "%s: %s is inside the input folder %s: refusing to write there\n", prog, out, in[i]);
        r = 2;
      }
    } else if (have_out && same(&so, &si)) {
      fprintf(stderr, "%s: %s is the input %s: refusing to overwrite it\n", prog, out, in[i]);
      r = 2;
    }
  }
  free(where);
  return r;
}

int op_check(const char *prog, const char *out, const char *const *in, int n_in) {
  int r = op_check_only(prog, out, in, n_in);
  if (!r && out) op_remove_stale_temps(out, OP_STALE_AGE);   /* the output may be written: clear its leftovers */
  return r;
}

/* The path of the file open as fd, resolved (malloc'd), or NULL where the system does not
 * say: Linux's /proc/self/fd/N link, macOS's F_GETPATH. */
static char *fd_path(int fd) {
#ifdef F_GETPATH
  char buf[PATH_MAX], *r;
  if (fcntl(fd, F_GETPATH, buf) == -1) return NULL;
  r = (char *)malloc(strlen(buf) + 1);
  if (r) memcpy(r, buf, strlen(buf) + 1);
  return r;
#else
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  return realpath(link, NULL);
#endif
}

int op_check_fd(const char *prog, int fd, const char *what, const char *const *in, int n_in) {
  struct stat so, si;
  char *where = NULL;
  int i, r = 0;
  if (fstat(fd, &so) != 0 || !S_ISREG(so.st_mode)) return 0;
  for (i = 0; i < n_in && !r; i++) {
    if (!in[i] || stat(in[i], &si) != 0) continue;
    if (S_ISREG(si.st_mode) && same(&so, &si)) {
      fprintf(stderr, "%s: %s is the input %s: refusing to write over it\n", prog, what, in[i]);
      r = 2;
    } else if (S_ISDIR(si.st_mode) && (((where || (where = fd_path(fd)) != NULL) && inside(where, &si)) ||
                                       (so.st_nlink > 1 && holds(in[i], &so, 16)))) {
      fprintf(stderr, "%s: %s is a file inside the input folder %s: refusing to write there\n", prog, what, in[i]);
      r = 2;
    }
  }
  free(where);
  return r;
}

/* ---- stale temporary files */
static int is_temp_of(const char *name, const char *base) {
  size_t n = strlen(base), i;
  if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp", 4) != 0) return 0;
  for (i = 0; i < 8; i++)
    if (!isxdigit((unsigned char)name[n + 4 + i])) return 0;
  return name[n + 12] == 0;
}

int op_remove_stale_temps(const char *out, double max_age) {
  const char *slash = strrchr(out, '/');
  const char *base = slash ? slash + 1 : out;
  char dir[4096], path[8192];
  DIR *d;
  struct dirent *e;
  time_t now = time(NULL);
  int removed = 0;
  if (!*base) return 0;
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out) + (slash == out) : 1, slash ? out : ".");
  if (!(d = opendir(dir))) return 0;
  while ((e = readdir(d)) != NULL) {
    struct stat st;
    if (!is_temp_of(e->d_name, base)) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        difftime(now, st.st_mtime) < max_age)
      continue;
    if (remove(path) == 0) removed++;
  }
  closedir(d);
  return removed;
}

/* ---- a PNG written at once */
typedef struct { unsigned char *p; size_t len, cap; int failed; } png_buf;

static void png_collect(void *ctx, void *data, int size) {
  png_buf *b = (png_buf *)ctx;
  if (b->failed || size <= 0) return;
  if (b->len + (size_t)size > b->cap) {
    size_t cap = 2 * (b->len + (size_t)size);
    unsigned char *np = (unsigned char *)realloc(b->p, cap);
    if (!np) {
      b->failed = 1;
      return;
    }
    b->p = np, b->cap = cap;
  }
  memcpy(b->p + b->len, data, (size_t)size);
  b->len += (size_t)size;
}

int op_write_png(const char *prog, const char *path, const unsigned char *rgb, int w, int h) {
  png_buf b = {NULL, 0, 0, 0};
  asr_error err;
  int ok = stbi_write_png_to_func(png_collect, &b, w, h, 3, rgb, w * 3) && !b.failed && b.p;
  if (!ok) fprintf(stderr, "%s: %s: out of memory for the PNG\n", prog, path);
  else if (asr_write_file_atomic(path, b.p, b.len, &err) != ASR_OK) {
    fprintf(stderr, "%s: %s\n", prog, err.msg);
    ok = 0;
  }
  free(b.p);
  return ok ? 0 : 2;
}
