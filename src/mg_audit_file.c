/*-------------------------------------------------------------------------
 *
 * mg_audit_file.c
 *		File access for the audit trail: a line reader in bounded memory
 *		that survives any damage, the line format, the encoding of
 *		entries, small number files, and the file lock.
 *
 * Nothing here may stop the cluster: the postmaster rebuilds the shared
 * state through these functions, so every read problem is reported at the
 * caller's level (LOG in the postmaster, WARNING in a SQL function) and the
 * readable lines are kept.  A line with a NUL byte, longer than
 * MG_AUDIT_MAX_LINE or without its newline at the end of the file is
 * counted as damaged and skipped.
 *
 * Entries are stored in UTF-8, whatever the encoding of the database that
 * wrote them, and converted to the reader's database encoding; characters
 * that have no equivalent there become "?", so that any database and any
 * client can read the whole trail.
 *
 * Locking between processes uses flock() on audit.lock, never an LWLock:
 * appenders and readers take it shared, rotation and reset exclusively, and
 * every wait for it is a loop of non-blocking attempts that honours
 * interrupts, so no session waits past its own cancel or statement_timeout
 * for another session's disk.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_audit_file.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/wait_event.h"

#include "migration_guard.h"
#include "mg_audit.h"
#include "mg_compat.h"

#define MG_READER_INITIAL_BUF	(64 * 1024)

/* Set when a file of the trail existed but could not be read */
bool		mg_audit_read_problem = false;

/*
 * Open a segment for reading.  Returns false if it does not exist or cannot
 * be read (reported at elevel).
 */
bool
mg_audit_reader_open(MGAuditReader *r, const char *path, int elevel)
{
	struct stat st;

	memset(r, 0, sizeof(*r));
	r->path = path;
	r->elevel = elevel;
	r->fd = OpenTransientFile(path, O_RDONLY | O_NONBLOCK | PG_BINARY);
	if (r->fd < 0)
	{
		if (errno != ENOENT)
			mg_audit_read_problem = true;
		if (errno != ENOENT)
			ereport(elevel,
					errcode_for_file_access(),
					errmsg("could not open migration_guard audit file \"%s\": %m", path));
		return false;
	}
	if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode))
	{
		mg_audit_read_problem = true;
		ereport(elevel,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("migration_guard audit file \"%s\" is not a regular file", path),
				errhint("Move it away; the audit trail starts a new file."));
		CloseTransientFile(r->fd);
		r->fd = -1;
		return false;
	}
	r->bufsize = MG_READER_INITIAL_BUF;
	r->buf = palloc(r->bufsize);
	return true;
}

/*
 * Read more data into the buffer, after what is there.  Sets eof at the end
 * or on a read error (reported).
 */
static void
mg_audit_reader_fill(MGAuditReader *r)
{
	ssize_t		got;

	if (r->start > 0)
	{
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == r->bufsize && r->bufsize <= MG_AUDIT_MAX_LINE)
	{
		r->bufsize = Min(r->bufsize * 2, MG_AUDIT_MAX_LINE + 1);
		r->buf = repalloc(r->buf, r->bufsize);
	}
	if (r->end == r->bufsize)
		return;					/* caller handles an overlong line */
	do
		got = read(r->fd, r->buf + r->end, r->bufsize - r->end);
	while (got < 0 && errno == EINTR);
	if (got < 0)
	{
		mg_audit_read_problem = true;
		ereport(r->elevel,
				errcode_for_file_access(),
				errmsg("could not read migration_guard audit file \"%s\": %m", r->path));
		r->eof = true;
		return;
	}
	if (got == 0)
		r->eof = true;
	r->end += got;
	r->bytes += got;
}

/*
 * Next complete, undamaged line (without its newline, NUL-terminated, valid
 * until the next call), or NULL at the end.
 */
char *
mg_audit_reader_next(MGAuditReader *r)
{
	bool		skipping = false;

	if (r->fd < 0)
		return NULL;
	for (;;)
	{
		char	   *line = r->buf + r->start;
		char	   *nl = memchr(line, '\n', r->end - r->start);

		if (nl != NULL)
		{
			int			len = nl - line;

			r->start += len + 1;
			if (skipping)
			{
				skipping = false;
				continue;
			}
			if (memchr(line, '\0', len) != NULL)
			{
				r->damaged++;
				continue;
			}
			*nl = '\0';
			return line;
		}
		if (r->eof)
		{
			if (r->end > r->start && !skipping)
				r->damaged++;	/* torn last line */
			r->start = r->end;
			return NULL;
		}
		if (r->start == 0 && r->end == r->bufsize && r->bufsize > MG_AUDIT_MAX_LINE)
		{
			/* Overlong: drop what we have and skip to the next newline. */
			if (!skipping)
				r->damaged++;
			skipping = true;
			r->start = r->end = 0;
		}
		CHECK_FOR_INTERRUPTS();
		mg_audit_reader_fill(r);
	}
}

void
mg_audit_reader_close(MGAuditReader *r)
{
	if (r->fd >= 0)
		CloseTransientFile(r->fd);
	r->fd = -1;
	if (r->buf)
		pfree(r->buf);
	r->buf = NULL;
}

/*
 * Type and sequence number of a line: "<type>\t<digits>\t...".  False for
 * anything else (damage, or an outcome line, which has no number of its
 * own: for those *seq is the decision it refers to).
 */
bool
mg_audit_parse_seq(const char *line, char *type, uint64 *seq)
{
	const char *p = line + 2;
	uint64		v = 0;
	int			digits = 0;

	if (line[0] == '\0' || line[1] != '\t')
		return false;
	if (strchr("DLHWO", line[0]) == NULL)
		return false;
	while (*p >= '0' && *p <= '9' && digits < 19)
	{
		v = v * 10 + (*p++ - '0');
		digits++;
	}
	if (digits == 0 || v == 0 || (*p != '\t' && *p != '\0'))
		return false;
	*type = line[0];
	*seq = v;
	return true;
}

/* Fields of a record of this type without its origin; 0 for no such type */
static int
mg_audit_base_fields(char type, int n)
{
	switch (type)
	{
		case MG_AUDIT_REC_DECISION:
			/* 1.0 wrote no session user OID: 22 fields, never an origin */
			return n == MG_AUDIT_D_FIELDS_1_0 ? n : MG_AUDIT_D_FIELDS;
		case MG_AUDIT_REC_LOCK_WAIT:
			return MG_AUDIT_L_FIELDS;
		case MG_AUDIT_REC_WRITE_FAIL:
			return MG_AUDIT_W_FIELDS;
		case MG_AUDIT_REC_LOCK_HOLD:
			return MG_AUDIT_H_FIELDS;
		case MG_AUDIT_REC_OUTCOME:
			return MG_AUDIT_O_FIELDS;
	}
	return 0;
}

/*
 * Is this a complete record of its type?  Counts the fields of a line whose
 * type and number parsed; a record cut short or padded is damage.  The
 * origin at the end is optional (records written before 1.1 have none).
 */
bool
mg_audit_record_complete(const char *line, char type)
{
	int			n = 1;
	int			base;

	for (; *line; line++)
		if (*line == '\t')
			n++;
	base = mg_audit_base_fields(type, n);
	return base > 0 && (n == base || n == base + 1);
}

/* Does a split record of this type have the right number of fields? */
bool
mg_audit_record_fields_ok(char type, int nfields)
{
	int			base = mg_audit_base_fields(type, nfields);

	return base > 0 && nfields <= MG_AUDIT_MAX_FIELDS &&
		(nfields == base || nfields == base + 1);
}

/*
 * The origin of a split record: its last field if it has one (a positive
 * number), else 0.
 */
int64
mg_audit_field_origin(char **fields, int nfields, char type)
{
	int			base = mg_audit_base_fields(type, nfields);
	char	   *end;
	int64		origin;

	if (base == 0 || nfields != base + 1 || nfields > MG_AUDIT_MAX_FIELDS)
		return 0;
	errno = 0;
	origin = strtoi64(fields[nfields - 1], &end, 10);
	if (errno != 0 || *end != '\0' || origin < 0)
		return 0;
	return origin;
}

/*
 * Split a line on tabs, in place.  Returns the number of fields, which may
 * be larger than max (the rest are not stored).
 */
int
mg_audit_split(char *line, char **fields, int max)
{
	int			n = 0;

	fields[n++] = line;
	for (; *line; line++)
	{
		if (*line == '\t')
		{
			*line = '\0';
			if (n < max)
				fields[n] = line + 1;
			n++;
		}
	}
	return n;
}

/*
 * Append one field to a line, tab-separated, escaping what would break the
 * one-line format.  NULL is written as \N.
 */
void
mg_audit_append_field(StringInfo buf, const char *s)
{
	if (buf->len > 0)
		appendStringInfoChar(buf, '\t');
	if (s == NULL)
	{
		appendStringInfoString(buf, "\\N");
		return;
	}
	for (; *s; s++)
	{
		switch (*s)
		{
			case '\\':
				appendStringInfoString(buf, "\\\\");
				break;
			case '\t':
				appendStringInfoString(buf, "\\t");
				break;
			case '\n':
				appendStringInfoString(buf, "\\n");
				break;
			case '\r':
				appendStringInfoString(buf, "\\r");
				break;
			default:
				appendStringInfoChar(buf, *s);
		}
	}
}

/*
 * Undo the escaping in place; returns NULL for \N.
 */
char *
mg_audit_unescape(char *s)
{
	char	   *r = s;
	char	   *w = s;

	if (strcmp(s, "\\N") == 0)
		return NULL;
	while (*r)
	{
		if (*r == '\\' && r[1] != '\0')
		{
			r++;
			*w++ = (*r == 't') ? '\t' : (*r == 'n') ? '\n' : (*r == 'r') ? '\r' : *r;
			r++;
		}
		else
			*w++ = *r++;
	}
	*w = '\0';
	return s;
}

/*
 * Copy s, replacing every byte that does not start a valid UTF-8 character
 * by "?".
 */
static char *
mg_utf8_sanitize(const char *s)
{
	int			len = strlen(s);
	char	   *out = palloc(len + 1);
	char	   *w = out;
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	while (p < end)
	{
		int			l = pg_utf_mblen(p);

		if (l <= end - p && pg_utf8_islegal(p, l))
		{
			memcpy(w, p, l);
			w += l;
			p += l;
		}
		else
		{
			*w++ = '?';
			p++;
		}
	}
	*w = '\0';
	return out;
}

/*
 * A string of the database encoding, as stored in the trail (UTF-8).
 */
char *
mg_audit_to_utf8(const char *s)
{
	int			enc = GetDatabaseEncoding();

	if (s == NULL)
		return NULL;
	if (enc == PG_UTF8)
		return (char *) s;
	if (enc == PG_SQL_ASCII)
		return mg_utf8_sanitize(s);
	/* Valid server text always has a UTF-8 equivalent. */
	return pg_server_to_any(s, strlen(s), PG_UTF8);
}

/*
 * A stored (UTF-8) string in the database encoding.  Characters without an
 * equivalent become "?"; bytes that are not valid UTF-8 (damage) too.
 */
char *
mg_audit_from_utf8(const char *s)
{
	char	   *valid;
	char	   *result;

	if (s == NULL)
		return NULL;
	valid = mg_utf8_sanitize(s);
	result = mg_text_replace_unconvertible(valid, PG_UTF8,
										   GetDatabaseEncoding(), true);
	pfree(valid);
	return result;
}

/*
 * Read a file holding one decimal number; 0 if missing or unreadable
 * (reported at elevel).
 */
uint64
mg_audit_read_number(const char *path, int elevel)
{
	MGAuditReader r;
	char	   *line;
	uint64		v = 0;

	if (!mg_audit_reader_open(&r, path, elevel))
		return 0;
	line = mg_audit_reader_next(&r);
	if (line != NULL)
	{
		char	   *end;

		errno = 0;
		v = strtou64(line, &end, 10);
		if (errno != 0 || end == line || *end != '\0')
		{
			ereport(elevel,
					errcode(ERRCODE_DATA_CORRUPTED),
					errmsg("ignoring damaged migration_guard file \"%s\"", path));
			v = 0;
		}
	}
	mg_audit_reader_close(&r);
	return v;
}

/*
 * Replace a number file durably (write a temporary file, fsync, rename).
 * Returns false on failure, reported at elevel.
 */
bool
mg_audit_write_number(const char *path, uint64 value, int elevel)
{
	char		tmp[MAXPGPATH];
	char		text[32];
	int			fd;
	int			len;
	bool		ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	len = snprintf(text, sizeof(text), UINT64_FORMAT "\n", value);
	fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0)
	{
		ereport(elevel,
				errcode_for_file_access(),
				errmsg("could not create file \"%s\": %m", tmp));
		return false;
	}
	ok = write(fd, text, len) == len && pg_fsync(fd) == 0;
	if (!ok)
		ereport(elevel,
				errcode_for_file_access(),
				errmsg("could not write file \"%s\": %m", tmp));
	CloseTransientFile(fd);
	if (!ok)
		return false;
	return durable_rename(tmp, path, elevel) == 0;
}

/*
 * Take the trail's file lock, shared or exclusive.  With wait, retry until
 * it is granted, honouring interrupts (cancel, statement_timeout, the death
 * of the postmaster); without, try once.  Returns the descriptor to pass to
 * mg_audit_unlock_file(), or -1 (the lock file cannot be opened, or it is
 * busy and wait is false).  The postmaster is alone and needs no lock.
 */
int
mg_audit_lock_file(bool exclusive, bool wait)
{
	int			fd;
	long		delay_ms = 1;

	fd = OpenTransientFile(MG_AUDIT_LOCKFILE, O_RDWR | O_CREAT | PG_BINARY);
	if (fd < 0)
		return -1;
	for (;;)
	{
		if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
			return fd;
		if ((errno != EWOULDBLOCK && errno != EINTR) || !wait)
			break;
		if (MyLatch != NULL && IsUnderPostmaster)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 delay_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
		else
			pg_usleep(delay_ms * 1000L);
		CHECK_FOR_INTERRUPTS();
		delay_ms = Min(delay_ms * 2, 50);
	}
	CloseTransientFile(fd);
	return -1;
}

void
mg_audit_unlock_file(int fd)
{
	if (fd >= 0)
		CloseTransientFile(fd);	/* closing releases the flock */
}
