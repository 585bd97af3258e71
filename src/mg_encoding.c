/*-------------------------------------------------------------------------
 *
 * mg_encoding.c
 *		Text that must survive an encoding conversion it cannot control.
 *
 * Two places hand text to a conversion that would fail on a character the
 * target encoding lacks: the blocker report in an error's DETAIL (converted
 * to the client encoding when the error is sent: a failure there replaces
 * 55P03 by 22P05) and the audit trail, stored in UTF-8 and read from
 * databases of any encoding.  Both replace such characters by "?", with
 * this one function.
 *
 * The conversion is looked up in pg_catalog only, so that no conversion
 * found through the caller's search_path runs here.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_encoding.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_conversion.h"
#include "catalog/pg_namespace.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "migration_guard.h"
#include "mg_compat.h"

/*
 * s, valid in encoding src, with every character that has no equivalent in
 * encoding dst replaced by "?".  With convert, the result is in dst;
 * without, it stays in src (for text that PostgreSQL converts later).
 */
char *
mg_text_replace_unconvertible(const char *s, int src, int dst, bool convert)
{
	Oid			proc = InvalidOid;
	StringInfoData buf;
	const char *p = s;
	const char *end = s + strlen(s);

	if (src == dst || dst == PG_SQL_ASCII)
		return pstrdup(s);
	/* From SQL_ASCII there is no conversion, only validation: keep ASCII. */
	if (src != PG_SQL_ASCII)
		proc = FindDefaultConversion(PG_CATALOG_NAMESPACE, src, dst);

	initStringInfo(&buf);
	while (p < end)
	{
		int			len = Min(pg_encoding_mblen(src, p), end - p);
		unsigned char out[MAX_CONVERSION_GROWTH * MAX_MULTIBYTE_CHAR_LEN + 1];

		if (!IS_HIGHBIT_SET(*p))
			appendStringInfoChar(&buf, *p);
		else if (OidIsValid(proc) &&
				 pg_do_encoding_conversion_buf(proc, src, dst,
											   (unsigned char *) p, len,
											   out, sizeof(out), true) == len)
		{
			if (convert)
				appendStringInfoString(&buf, (char *) out);
			else
				appendBinaryStringInfo(&buf, p, len);
		}
		else
			appendStringInfoChar(&buf, '?');
		p += len;
	}
	return buf.data;
}
