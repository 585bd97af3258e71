/*-------------------------------------------------------------------------
 *
 * mg_window.c
 *		The maintenance window: hours during which rejections become
 *		warnings, always audited.
 *
 * migration_guard.maintenance_window lists windows separated by ";", each
 * "<days> <HH:MM>-<HH:MM>", days being "*", a day name (mon ... sun), a
 * range ("mon-fri") or a comma-separated list of those.  A window whose end
 * is before its start ("22:00-02:00") runs past midnight into the next day;
 * 24:00 is only an end, and a window cannot end when it starts (is that no
 * time or a whole day?).  The parser is strict, like PostgreSQL's own
 * settings: anything but this grammar is an error.  Times are in
 * migration_guard.maintenance_window_timezone.  Both are PGC_SIGHUP: the
 * window is cluster policy, set in postgresql.conf.
 *
 *		migration_guard.maintenance_window = 'sat,sun 01:00-05:00; mon-fri 02:00-03:00'
 *		migration_guard.maintenance_window_timezone = 'Europe/Berlin'
 *
 * The value is parsed once, in the check hook, into a compact list that
 * the assign hook installs; checking the current time is then a loop over
 * a few integers.
 *
 * Copyright (c) 2026, migration_guard developers
 *
 * IDENTIFICATION
 *		src/mg_window.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "migration_guard.h"
#include "mg_compat.h"

#define MG_MAX_WINDOWS 16

typedef struct MGWindow
{
	int			days;			/* bit 0 = Sunday ... bit 6 = Saturday */
	int			start;			/* minutes after midnight */
	int			end;
} MGWindow;

typedef struct MGWindowList
{
	int			n;
	MGWindow	w[MG_MAX_WINDOWS];
} MGWindowList;

char	   *mg_maintenance_window = NULL;
char	   *mg_maintenance_window_timezone = NULL;

static MGWindowList *mg_windows = NULL;
static pg_tz *mg_window_tz = NULL;

static const char *const mg_day_names[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/*
 * The grammar, appended to every error detail so that the fix is at hand.
 * A compile-time constant, so that each detail stays one whole sentence
 * pair for translators.
 */
#define MG_WINDOW_GRAMMAR \
	"Each window is \"<days> <HH:MM>-<HH:MM>\", windows separated by \";\", " \
	"with <days> \"*\", mon ... sun, a range such as \"mon-fri\", or a " \
	"comma-separated list of those without spaces."

/* Longest piece of the value quoted in an error detail, in bytes */
#define MG_WINDOW_QUOTE_MAX 64

/* Whitespace as the SQL scanner sees it (scanner_isspace()) */
static bool
mg_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/*
 * Day number (0 = Sunday) of a three-letter day name, in any case; -1 if
 * the text is not one.
 */
static int
mg_day_number(const char *s, int len)
{
	int			i;

	for (i = 0; i < 7; i++)
		if (len == 3 && pg_strncasecmp(s, mg_day_names[i], 3) == 0)
			return i;
	return -1;
}

/*
 * Parse "HH:MM" (exactly two digits each) at *p into minutes after
 * midnight; advances *p.  -1 if malformed or out of range.  24:00 is
 * accepted here (only as an end; the caller checks).
 */
static int
mg_parse_time(const char **p)
{
	const char *s = *p;
	int			h,
				m;

	if (!isdigit((unsigned char) s[0]) || !isdigit((unsigned char) s[1]) ||
		s[2] != ':' ||
		!isdigit((unsigned char) s[3]) || !isdigit((unsigned char) s[4]) ||
		isdigit((unsigned char) s[5]))
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return -1;
	*p = s + 5;
	return h * 60 + m;
}

/* What is wrong with a list of days */
typedef enum MGDaysProblem
{
	MG_DAYS_EMPTY_ITEM,			/* "mon,", ",mon", "mon,,tue" */
	MG_DAYS_UNRECOGNIZED,		/* "monday", "*,mon", "mon-" */
	MG_DAYS_SAME_DAY_RANGE		/* "mon-mon": one day or the whole week? */
} MGDaysProblem;

/*
 * Parse the days part ("*", "sat,sun", "mon-fri", "fri-mon") into a bit
 * mask.  Returns 0, with *problem set, if malformed.
 */
static int
mg_parse_days(const char *s, int len, MGDaysProblem *problem)
{
	int			mask = 0;
	const char *end = s + len;

	if (len == 1 && *s == '*')
		return 0x7f;
	for (;;)
	{
		const char *comma = memchr(s, ',', end - s);
		const char *item_end = comma ? comma : end;
		const char *dash = memchr(s, '-', item_end - s);
		int			from,
					to;

		if (item_end == s)
		{
			*problem = MG_DAYS_EMPTY_ITEM;
			return 0;
		}
		if (dash)
		{
			from = mg_day_number(s, dash - s);
			to = mg_day_number(dash + 1, item_end - dash - 1);
		}
		else
			from = to = mg_day_number(s, item_end - s);
		if (from < 0 || to < 0)
		{
			*problem = MG_DAYS_UNRECOGNIZED;
			return 0;
		}
		if (dash && from == to)
		{
			*problem = MG_DAYS_SAME_DAY_RANGE;
			return 0;
		}
		for (;;)
		{
			mask |= 1 << from;
			if (from == to)
				break;
			from = (from + 1) % 7;
		}
		if (!comma)
			break;
		s = comma + 1;
	}
	return mask;
}

/*
 * Parse one window, "<days> <HH:MM>-<HH:MM>" with nothing around it (the
 * caller strips the whitespace next to the ";").  Returns false, with the
 * error detail set, if malformed.
 */
static bool
mg_parse_window(const char *s, int len, MGWindow *w)
{
	const char *end = s + len;
	const char *p = s;
	const char *days = s;
	MGDaysProblem problem = MG_DAYS_UNRECOGNIZED;
	int			daylen;

	while (p < end && !mg_is_space(*p))
		p++;
	daylen = p - days;
	while (p < end && mg_is_space(*p))
		p++;
	if (p == end)
	{
		GUC_check_errdetail("Window \"%s\" does not have both days and times.  " MG_WINDOW_GRAMMAR,
							mg_quote_arg(pnstrdup(s, len), MG_WINDOW_QUOTE_MAX));
		return false;
	}

	w->days = mg_parse_days(days, daylen, &problem);
	if (w->days == 0)
	{
		if (problem == MG_DAYS_EMPTY_ITEM)
			GUC_check_errdetail("Window \"%s\" has an empty item in its list of days.  " MG_WINDOW_GRAMMAR,
								mg_quote_arg(pnstrdup(s, len), MG_WINDOW_QUOTE_MAX));
		else if (problem == MG_DAYS_SAME_DAY_RANGE)
			GUC_check_errdetail("Window \"%s\" has a range of days that starts and ends on the same day.  " MG_WINDOW_GRAMMAR,
								mg_quote_arg(pnstrdup(s, len), MG_WINDOW_QUOTE_MAX));
		else
			GUC_check_errdetail("Window \"%s\" has an unrecognized day.  " MG_WINDOW_GRAMMAR,
								mg_quote_arg(pnstrdup(s, len), MG_WINDOW_QUOTE_MAX));
		return false;
	}

	/* The time parser reads at most 6 bytes: the value is NUL-terminated. */
	w->start = mg_parse_time(&p);
	if (w->start >= 0 && p < end && *p == '-')
	{
		p++;
		w->end = mg_parse_time(&p);
	}
	else
		w->end = -1;
	if (w->start < 0 || w->end < 0)
	{
		GUC_check_errdetail("Window \"%s\" does not have times of the form \"<HH:MM>-<HH:MM>\", with hours from 00 to 24 and minutes from 00 to 59.  " MG_WINDOW_GRAMMAR,
							mg_quote_arg(pnstrdup(s, len), MG_WINDOW_QUOTE_MAX));
		return false;
	}
	if (p != end)
	{
		GUC_check_errdetail("Window \"%s\" has more after its times.  " MG_WINDOW_GRAMMAR,
							mg_quote_arg(pnstrdup(s, len), MG_WINDOW_QUOTE_MAX));
		return false;
	}
	if (w->start == 24 * 60)
	{
		GUC_check_errdetail("Window \"%s\" starts at 24:00, which is the next day's 00:00.  " MG_WINDOW_GRAMMAR,
							mg_quote_arg(pnstrdup(s, len), MG_WINDOW_QUOTE_MAX));
		return false;
	}
	if (w->start == w->end)
	{
		GUC_check_errdetail("Window \"%s\" ends when it starts; \"00:00-24:00\" is a whole day.  " MG_WINDOW_GRAMMAR,
							mg_quote_arg(pnstrdup(s, len), MG_WINDOW_QUOTE_MAX));
		return false;
	}
	return true;
}

/*
 * Check hook: parse the whole value, explaining what is wrong.
 *
 * As with PostgreSQL's own list settings (SplitIdentifierString()), an
 * empty or all-whitespace value is an empty list, whitespace around the
 * separators is ignored, and an empty item (";;", a leading or trailing
 * ";") is an error rather than silently skipped.
 */
static bool
mg_check_window(char **newval, void **extra, GucSource source)
{
	MGWindowList *list;
	const char *p = *newval ? *newval : "";

	list = (MGWindowList *) mg_guc_malloc(sizeof(MGWindowList));
	if (list == NULL)
		return false;
	list->n = 0;

	while (mg_is_space(*p))
		p++;
	if (*p == '\0')
	{
		*extra = list;
		return true;
	}

	for (;;)
	{
		const char *item = p;
		const char *item_end;
		const char *next;

		next = strchr(p, ';');
		item_end = next ? next : p + strlen(p);
		while (item_end > item && mg_is_space(item_end[-1]))
			item_end--;
		if (item_end == item)
		{
			GUC_check_errdetail("The list of windows has an empty item.  " MG_WINDOW_GRAMMAR);
			mg_guc_free(list);
			return false;
		}
		if (list->n >= MG_MAX_WINDOWS)
		{
			GUC_check_errdetail("At most %d windows can be given.", MG_MAX_WINDOWS);
			mg_guc_free(list);
			return false;
		}
		if (!mg_parse_window(item, item_end - item, &list->w[list->n]))
		{
			mg_guc_free(list);
			return false;
		}
		list->n++;
		if (next == NULL)
			break;
		p = next + 1;
		while (mg_is_space(*p))
			p++;
	}
	*extra = list;
	return true;
}

static void
mg_assign_window(const char *newval, void *extra)
{
	mg_windows = (MGWindowList *) extra;
}

/*
 * Check hook of the time zone: accept exactly the names and POSIX
 * specifications that pg_tzset() loads and that PostgreSQL accepts for its
 * own time zone settings (check_timezone()): not a zone with leap seconds,
 * such as "right/UTC", whose clock does not match PostgreSQL's timestamps.
 * The zone found is passed to the assign hook, which does not look it up
 * again.
 */
static bool
mg_check_window_timezone(char **newval, void **extra, GucSource source)
{
	pg_tz	   *tz = NULL;
	pg_tz	  **result;

	if (*newval != NULL && **newval != '\0')
	{
		tz = pg_tzset(*newval);
		if (tz == NULL)
		{
			GUC_check_errdetail("Time zone \"%s\" is not recognized.",
								mg_quote_arg(*newval, MG_WINDOW_QUOTE_MAX));
			return false;
		}
		if (!pg_tz_acceptable(tz))
		{
			GUC_check_errdetail("Time zone \"%s\" appears to use leap seconds, which PostgreSQL does not support.",
								mg_quote_arg(*newval, MG_WINDOW_QUOTE_MAX));
			return false;
		}
	}
	result = (pg_tz **) mg_guc_malloc(sizeof(pg_tz *));
	if (result == NULL)
		return false;
	*result = tz;				/* pg_tzset() caches zones for good */
	*extra = result;
	return true;
}

static void
mg_assign_window_timezone(const char *newval, void *extra)
{
	mg_window_tz = extra ? *(pg_tz **) extra : NULL;
}

void
mg_define_window_gucs(void)
{
	DefineCustomStringVariable("migration_guard.maintenance_window",
							   "Sets the maintenance windows, during which rejections become warnings.",
							   "A \";\"-separated list of \"<days> <HH:MM>-<HH:MM>\", e.g. \"sat,sun 01:00-05:00\".  Empty: none.",
							   &mg_maintenance_window,
							   "",
							   PGC_SIGHUP,
							   0,
							   mg_check_window, mg_assign_window, NULL);

	DefineCustomStringVariable("migration_guard.maintenance_window_timezone",
							   "Sets the time zone of the maintenance windows.",
							   "Empty: the server's log_timezone.",
							   &mg_maintenance_window_timezone,
							   "",
							   PGC_SIGHUP,
							   0,
							   mg_check_window_timezone, mg_assign_window_timezone, NULL);
}

/*
 * Is now inside a maintenance window?
 */
bool
mg_in_maintenance_window(void)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;
	int			dow;
	int			minute;
	int			i;

	if (mg_windows == NULL || mg_windows->n == 0)
		return false;
	if (timestamp2tm(GetCurrentTimestamp(), &tzoff, &tm, &fsec, NULL,
					 mg_window_tz ? mg_window_tz : log_timezone) != 0)
		return false;
	dow = j2day(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday));
	minute = tm.tm_hour * 60 + tm.tm_min;

	for (i = 0; i < mg_windows->n; i++)
	{
		const MGWindow *w = &mg_windows->w[i];

		if (w->start < w->end)
		{
			if ((w->days & (1 << dow)) && minute >= w->start && minute < w->end)
				return true;
		}
		else
		{
			/* Past midnight: the start day's evening or the next morning. */
			if (((w->days & (1 << dow)) && minute >= w->start) ||
				((w->days & (1 << ((dow + 6) % 7))) && minute < w->end))
				return true;
		}
	}
	return false;
}
