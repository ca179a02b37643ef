/* AWS PRIVATELINK: tether runs no cloud control plane, so it cannot create
 * or inspect a VPC endpoint. The check verifies what needs no cloud (SERVICE
 * NAME and AVAILABILITY ZONES well formed, the zones in the service's
 * region) and then always fails 0A000 `AWS PrivateLink connections are
 * unsupported` (SQL.md 6) with a DETAIL naming what was and was not
 * checked: it never reports a success it did not observe. */
#include "val.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool pl_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

/* "com.amazonaws.vpce.<region>.vpce-svc-<hex>": the region, else "". */
static bool pl_service_region(const char *s, char *region, size_t size)
{
	static const char head[] = "com.amazonaws.vpce.";
	region[0] = '\0';
	if (strncmp(s, head, sizeof(head) - 1) != 0)
		return false;
	const char *p = s + sizeof(head) - 1, *dot = strchr(p, '.');
	if (!dot || (size_t)(dot - p) >= size || strncmp(dot + 1, "vpce-svc-", 9) != 0)
		return false;
	const char *id = dot + 10;
	size_t n = strlen(id);
	if (n < 8 || n > 32 || strspn(id, "0123456789abcdef") != n)
		return false;
	snprintf(region, size, "%.*s", (int)(dot - p), p);
	return true;
}

/* AZ ids look like use1-az1 or usw2-lax1-az1 (Local Zones). */
static bool pl_az_id_valid(const char *az)
{
	size_t n = strlen(az);
	if (n < 6 || n > 32)
		return false;
	const char *last = strrchr(az, '-');
	if (!last || strncmp(last, "-az", 3) != 0 || !last[3])
		return false;
	for (const char *p = last + 3; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	for (const char *p = az; p < last; p++)
		if (!pl_lower_alnum(*p) && *p != '-')
			return false;
	return pl_lower_alnum(az[0]);
}

/* The AZ-id prefix of a region (us-east-1 -> use1, ap-northeast-2 ->
 * apne2, us-gov-west-1 -> usgw1): AWS's naming of zone ids. */
static bool pl_region_az_prefix(const char *region, char *out, size_t size)
{
	static const struct { const char *word, *abbr; } dirs[] = {
		{ "northeast", "ne" }, { "northwest", "nw" }, { "southeast", "se" },
		{ "southwest", "sw" }, { "north", "n" }, { "south", "s" }, { "east", "e" },
		{ "west", "w" }, { "central", "c" }, { "gov", "g" },
	};
	char buf[64];
	size_t o = 0;
	snprintf(buf, sizeof(buf), "%s", region);
	char *save = NULL;
	int part = 0;
	for (char *t = strtok_r(buf, "-", &save); t; t = strtok_r(NULL, "-", &save), part++) {
		const char *add = NULL;
		if (part == 0 || strspn(t, "0123456789") == strlen(t)) {
			add = t;
		} else {
			for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !add; i++)
				if (strcmp(t, dirs[i].word) == 0)
					add = dirs[i].abbr;
		}
		if (!add || o + strlen(add) >= size)
			return false;
		memcpy(out + o, add, strlen(add));
		o += strlen(add);
	}
	out[o] = '\0';
	return part >= 3;
}

static int pl_config(struct val_result *r, const char *fmt, const char *a, const char *b)
{
	val_fail(r, VAL_CONFIG, NULL, "invalid connection configuration: ");
	char m[400];
	snprintf(m, sizeof(m), fmt, a ? a : "", b ? b : "");
	err_set(&r->e, "22023", "invalid connection configuration: %s", m);
	snprintf(r->stage, sizeof(r->stage), "config");
	return -1;
}

int conn_aws_privatelink_validate(const struct val_services *svc, const struct val_job *job,
				  struct val_result *r)
{
	const struct val_option *sn = val_job_option(job, "SERVICE NAME");
	const struct val_option *azs = val_job_option(job, "AVAILABILITY ZONES");
	char *service = NULL, region[64] = "", prefix[32] = "";
	size_t slen = 0;
	int rc = -1;

	snprintf(r->stage, sizeof(r->stage), "config");
	if (!sn)
		return pl_config(r, "SERVICE NAME option is required%s%s", NULL, NULL);
	if (val_option_value(svc, job, sn, NULL, &service, &slen, r) != 0)
		return -1;
	for (size_t i = 0; i < slen; i++)
		if (!pl_lower_alnum(service[i]) && service[i] != '.' && service[i] != '-') {
			pl_config(r, "invalid SERVICE NAME \"%s\"%s", service, NULL);
			goto out;
		}
	bool derived = pl_service_region(service, region, sizeof(region)) &&
		       pl_region_az_prefix(region, prefix, sizeof(prefix));
	/* AVAILABILITY ZONES: one text part per zone (a list). */
	size_t naz = azs ? azs->nparts : 0;
	if (naz == 0) {
		pl_config(r, "AVAILABILITY ZONES option is required%s%s", NULL, NULL);
		goto out;
	}
	for (size_t i = 0; i < naz; i++) {
		const char *az = azs->parts[i].text;
		if (!az || !pl_az_id_valid(az)) {
			pl_config(r, "invalid AWS PrivateLink availability zone \"%s\"%s",
				  az ? az : "(secret)", NULL);
			err_hint(&r->e, "Availability zones are given by ID, e.g. use1-az1.");
			goto out;
		}
		if (derived && strncmp(az, prefix, strlen(prefix)) != 0) {
			pl_config(r, "availability zone \"%s\" is not in region %s of SERVICE NAME",
				  az, region);
			goto out;
		}
	}
	val_fail(r, VAL_CONFIG, NULL, "AWS PrivateLink connections are unsupported");
	err_set(&r->e, "0A000", "AWS PrivateLink connections are unsupported");
	err_detail(&r->e, "Checked here: SERVICE NAME and AVAILABILITY ZONES are well formed%s. "
		   "Not checked (needs AWS, which this tether deployment does not manage): that "
		   "the endpoint service exists and accepts this connection's principal, and that "
		   "a VPC endpoint for it is available.",
		   derived ? " and the zones lie in the service's region" : "");
	err_hint(&r->e, "Reach the service through an SSH TUNNEL instead, or validate it from "
		 "the AWS console.");
	snprintf(r->stage, sizeof(r->stage), "unsupported");
out:
	val_value_free(service, slen);
	return rc;
}
