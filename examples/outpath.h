/* examples/outpath.h - never write over an input: the output-path guard every program runs
 * before it does any work.
 *
 *   const char *in[] = {model_path, audio_path};
 *   if (op_check("posteriorgram", out_path, in, 2)) return 2;
 *
 * An output is refused (one line on stderr, return 2) when
 *   - it is one of the inputs: the same device and inode as an input file, so a second
 *     path to it (a symbolic link, a hard link, "./x" for "x") is caught too;
 *   - it lies inside an input that is a folder (a data folder the program reads, e.g.
 *     train --data DIR, asrtool layer --weights DIR), at any depth, after symbolic links;
 *     or it is a hard link to one of that folder's files (up to 16 levels down).
 * An output that does not exist yet is placed by its nearest existing parent folder
 * (realpath), so "DIR/new/model.npz" is inside DIR even before "new" is created.
 * Inputs that do not exist are skipped: their own reader reports them. */
#ifndef OUTPATH_H
#define OUTPATH_H

/* 0 when `out` may be written, else prints "PROG: OUT: ..." and returns 2. NULL entries
 * of `in` are skipped. When `out` may be written, its stale temporaries are removed first
 * (op_remove_stale_temps(out, OP_STALE_AGE), below): every program that checks an output
 * clears what a killed run of it left beside that output. */
int op_check(const char *prog, const char *out, const char *const *in, int n_in);

/* op_check without the clearing: for a program that checks the same output again against
 * more inputs found later (train: the recordings a transcripts.tsv names). */
int op_check_only(const char *prog, const char *out, const char *const *in, int n_in);

/* The same for an open file descriptor (transcribe's stdout redirected to a file): 2 when
 * fd is a regular file that is one of the inputs, or lies inside an input folder (found by
 * the descriptor's path: /proc/self/fd on Linux, F_GETPATH on macOS; where the system does
 * not say, only the first test is made). `what` names it in the message. */
int op_check_fd(const char *prog, int fd, const char *what, const char *const *in, int n_in);

/* asr.h's atomic writers (asr_model_save, asr_write_file_atomic, asr_npy_write, the .npz
 * writer) write OUT through a temporary OUT.tmpXXXXXXXX (8 hex digits) renamed into place
 * at the end; a process killed between the two leaves that file behind, and each such
 * kill adds one. Removes the regular files of exactly that pattern beside `out` (not
 * symbolic links, not folders, not other names) that belong to this user and were last
 * written more than max_age seconds ago, and returns how many. A writer still at work
 * wrote its temporary within the last seconds (the largest checkpoint here takes well
 * under a second to write), so the programs' OP_STALE_AGE of 10 minutes never takes a
 * file from a run in progress. Programs that write a file under another name first
 * (asrtool's OUTDIR/.NAME.partial, units' OUTDIR/units.tsv) call it for that name. */
#define OP_STALE_AGE 600.0
int op_remove_stale_temps(const char *out, double max_age);

/* An RGB image (w x h, 3 bytes a pixel, rows packed) as a PNG at `path`, made in memory and
 * written at once (asr_write_file_atomic: through a temporary renamed into place), so a
 * failed or killed run leaves no half-written picture. 0, or 2 after one line on stderr
 * ("PROG: ..."). */
int op_write_png(const char *prog, const char *path, const unsigned char *rgb, int w, int h);
#endif
