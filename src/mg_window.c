/*-------------------------------------------------------------------------
 *
 * mg_window.c
 *		The maintenance window: hours during which rejections become
 *		warnings, always audited.
 *
 * migration_guard.maintenance_window lists windows separated by ";", each
 * "<days> <HH:MM>-<HH:MM>", days being "*", a day name (mon ... sun), a
 * range ("mon-fri") or a comma-separated list of those.  A window whose end
 * is not after its start runs past midnight into the next day.  Times are in
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
 * Parse "HH:MM" at *p into minutes; advances *p.  -1 if malformed.
 */
static int
mg_parse_time(const char **p)
{
	int			h = 0,
				m = 0,
				digits = 0;

	while (isdigit((unsigned char) **p) && digits < 2)
		h = h * 10 + (*(*p)++ - '0'), digits++;
	if (digits == 0 || **p != ':')
		return -1;
	(*p)++;
	digits = 0;
	while (isdigit((unsigned char) **p) && digits < 2)
		m = m * 10 + (*(*p)++ - '0'), digits++;
	if (digits != 2 || h > 24 || m > 59 || (h == 24 && m != 0))
		return -1;
	return h * 60 + m;
}

/*
 * Parse the days part ("*", "sat,sun", "mon-fri") into a bit mask.
 */
static int
mg_parse_days(const char *s, int len)
{
	int			mask = 0;
	const char *end = s + len;

	if (len == 1 && *s == '*')
		return 0x7f;
	while (s < end)
	{
		const char *comma = memchr(s, ',', end - s);
		const char *item_end = comma ? comma : end;
		const char *dash = memchr(s, '-', item_end - s);
		int			from,
					to;

		if (dash)
		{
			from = mg_day_number(s, dash - s);
			to = mg_day_number(dash + 1, item_end - dash - 1);
		}
		else
			from = to = mg_day_number(s, item_end - s);
		if (from < 0 || to < 0)
			return -1;
		for (;;)
		{
			mask |= 1 << from;
			if (from == to)
				break;
			from = (from + 1) % 7;
		}
		s = comma ? comma + 1 : end;
	}
	return mask;
}

/*
 * Check hook: parse the whole value, explaining what is wrong.
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

	while (*p)
	{
		const char *days;
		int			start,
					end,
					mask;

		while (isspace((unsigned char) *p) || *p == ';')
			p++;
		if (!*p)
			break;
		if (list->n >= MG_MAX_WINDOWS)
		{
			GUC_check_errdetail("At most %d windows can be given.", MG_MAX_WINDOWS);
			mg_guc_free(list);
			return false;
		}
		days = p;
		while (*p && !isspace((unsigned char) *p))
			p++;
		mask = mg_parse_days(days, p - days);
		while (isspace((unsigned char) *p))
			p++;
		start = mg_parse_time(&p);
		if (*p == '-')
			p++;
		else
			start = -1;
		end = start < 0 ? -1 : mg_parse_time(&p);
		while (isspace((unsigned char) *p))
			p++;
		if (mask <= 0 || start < 0 || end < 0 || (*p && *p != ';'))
		{
			GUC_check_errdetail("Each window is \"<days> <HH:MM>-<HH:MM>\", separated by \";\"; days are \"*\", mon ... sun, a range such as \"mon-fri\", or a comma-separated list.");
			mg_guc_free(list);
			return false;
		}
		list->w[list->n].days = mask;
		list->w[list->n].start = start;
		list->w[list->n].end = end;
		list->n++;
	}
	*extra = list;
	return true;
}

static void
mg_assign_window(const char *newval, void *extra)
{
	mg_windows = (MGWindowList *) extra;
}

static bool
mg_check_window_timezone(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || **newval == '\0')
		return true;
	if (pg_tzset(*newval) == NULL)
	{
		GUC_check_errdetail("Time zone \"%s\" is not recognized.", *newval);
		return false;
	}
	return true;
}

static void
mg_assign_window_timezone(const char *newval, void *extra)
{
	mg_window_tz = (newval && *newval) ? pg_tzset(newval) : NULL;
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
