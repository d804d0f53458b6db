// SPDX-License-Identifier: GPL-2.0-only
/*
 * Health checks without a network: the rise/fall state machine as a table,
 * the schedule against a fake clock (how soon a failure and a recovery are
 * seen), one target per distinct check however many VIPs list it, and
 * what an HTTP probe writes and reads.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "health.h"
#include "lb_abi.h"
#include "probe.h"
#include "state.h"

/* A run of results, as a string of '+' (pass) and '-' (fail), and what it
 * must leave: the health after each result, as 'u', 'U' (up), 'D'. */
struct step_case {
	char results[128];
	__u32 rise, fall;
	char want[128];
};

static struct step_case step_cases[] = {
	{ "+++", 2, 3, "uUU" },
	{ "---", 2, 3, "uuD" },
	{ "--+--", 2, 3, "uuuuu" },
	{ "---+-++", 2, 3, "uuDDDDU" },
	{ "+", 1, 1, "U" },
	{ "-", 1, 1, "D" },
	{ "++---++", 1, 3, "UUUUDUU" },
	{ "+-+-+-+-+-+-", 2, 3, "uuuuuuuuuuuu" },
};

static char letter(enum state_health h)
{
	return h == STATE_HEALTH_UP ? 'U' : h == STATE_HEALTH_DOWN ? 'D' : 'u';
}

ParameterizedTestParameters(health, step)
{
	return cr_make_param_array(struct step_case, step_cases,
				   sizeof(step_cases) / sizeof(step_cases[0]));
}

ParameterizedTest(struct step_case *tc, health, step)
{
	struct hc_run r = { 0 };
	char got[128] = "";
	size_t i;

	for (i = 0; tc->results[i]; i++)
		got[i] = letter(hc_step(&r, tc->results[i] == '+', tc->rise, tc->fall));
	cr_assert_str_eq(got, tc->want, "%s at rise %u fall %u", tc->results, tc->rise, tc->fall);
}

/* Alternating results never change anything at rise 2 / fall 3. */
Test(health, flapping_changes_nothing)
{
	struct hc_run r = { .health = STATE_HEALTH_UP };
	int i, changes = 0;

	for (i = 0; i < 100; i++)
		changes += hc_step(&r, i % 2, 2, 3) != STATE_HEALTH_UP;
	cr_assert_eq(changes, 0);
}

/*
 * The schedule, against a fake clock. A backend dies at a random moment;
 * every probe after that fails, each failure known `timeout` after its
 * start. It must be down within fall x interval + timeout of dying, and
 * up within rise x interval of coming back (a success is known at once).
 */
struct sim {
	__u64 start;		/* the next probe's start, us */
	struct hc_run run;
};

/* Run the probes from s->start on, each going the new way (ok) if it
 * starts at or after from and the old way before, until the run reaches
 * want; when its result was known. */
static __u64 sim_until(struct sim *s, __u64 from, bool ok, __u32 interval_ms,
		       __u32 timeout_ms, __u32 rise, __u32 fall, enum state_health want)
{
	for (;;) {
		__u64 start = s->start;
		bool result = start >= from ? ok : !ok;

		s->start = hc_next_start(start, interval_ms, start);
		if (hc_step(&s->run, result, rise, fall) == want && start >= from)
			return start + (ok ? 0 : (__u64)timeout_ms * 1000);
	}
}

Test(health, failures_and_recoveries_are_seen_in_time)
{
	const __u32 interval = 2000, timeout = 1000, rise = 2, fall = 3;
	struct sim s = { .run.health = STATE_HEALTH_UP };
	__u32 seed = 12345;
	int round;

	s.start = hc_first_start(0, interval, 777);
	cr_assert_lt(s.start, interval * 1000ULL);
	for (round = 0; round < 200; round++) {
		__u64 dies, back, seen;

		seed = seed * 1103515245 + 12345;
		dies = s.start + seed % (interval * 1000);
		seen = sim_until(&s, dies, false, interval, timeout, rise, fall, STATE_HEALTH_DOWN);
		cr_assert_leq(seen - dies, (fall * interval + timeout) * 1000ULL,
			      "round %d: down after %llu us", round,
			      (unsigned long long)(seen - dies));
		back = s.start + seed % (interval * 1000);
		seen = sim_until(&s, back, true, interval, timeout, rise, fall, STATE_HEALTH_UP);
		cr_assert_leq(seen - back, rise * interval * 1000ULL, "round %d: up after %llu us",
			      round, (unsigned long long)(seen - back));
	}
}

/* A late loop does not make probes pile up: the next start is never in
 * the past. */
Test(health, next_start_after_a_late_wakeup)
{
	cr_assert_eq(hc_next_start(1000000, 2000, 1500000), 3000000);
	cr_assert_eq(hc_next_start(1000000, 2000, 9000000), 11000000);
	/* Two targets spread over the interval stay apart after a stall. */
	cr_assert_eq(hc_next_start(1000000, 1000, 10500000), 11000000);
	cr_assert_eq(hc_next_start(1300000, 1000, 10500000), 11300000);
	cr_assert_eq(hc_next_start(1000000, 1000, 3000000), 4000000);
}

#define CFG(port2) \
	"{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv4\": \"198.18.2.2\"}, \"vips\": [" \
	"{\"name\": \"a\", \"address\": \"198.18.100.1\", \"port\": 80, \"protocol\": \"tcp\", " \
	"\"health_check\": {\"port\": 8080}, \"backends\": [{\"address\": \"198.18.3.1\"}, " \
	"{\"address\": \"198.18.3.2\"}]}, " \
	"{\"name\": \"b\", \"address\": \"198.18.100.2\", \"port\": 80, \"protocol\": \"tcp\", " \
	"\"health_check\": {\"port\": " port2 "}, \"backends\": [{\"address\": \"198.18.3.1\"}]}, " \
	"{\"name\": \"c\", \"address\": \"198.18.100.3\", \"port\": 80, \"protocol\": \"tcp\", " \
	"\"backends\": [{\"address\": \"198.18.3.1\"}]}]}"

static struct state *state_of(const char *text)
{
	struct config_errors errs = { 0 };
	struct config *cfg = NULL;

	cr_assert_eq(config_parse(text, strlen(text), "t.json", &cfg, &errs), 0);
	return state_new(cfg, 1000);
}

/* 198.18.3.1 checked on 8080 by two VIPs is one target; another port is
 * another check; a VIP without a check adds none. */
Test(health, one_target_per_distinct_check)
{
	struct state *same = state_of(CFG("8080")), *other = state_of(CFG("9090"));
	struct health_stats hs;
	struct health *h;
	sd_event *loop;

	cr_assert_eq(sd_event_new(&loop), 0);
	h = health_new(loop);
	cr_assert_not_null(h);
	cr_assert_eq(health_config(h, same), 0);
	health_stats_get(h, &hs);
	cr_assert_eq(hs.targets, 2);
	cr_assert_eq(hs.feeds, 3);
	cr_assert_eq(health_config(h, other), 0);
	health_stats_get(h, &hs);
	cr_assert_eq(hs.targets, 3);
	cr_assert_eq(hs.feeds, 3);
	health_free(h);
	sd_event_unref(loop);
	state_free(same);
	state_free(other);
}

struct status_case {
	char answer[32];
	int want;
};

static struct status_case status_cases[] = {
	{ "HTTP/1.1 200 OK\r\n", 200 },
	{ "HTTP/1.0 503 Service Unavailable", 503 },
	{ "HTTP/1.1 204\r\n", 204 },
	{ "HTTP/1.1 200", 200 },	/* enough to tell */
	{ "HTTP/1.1 20", 0 },		/* not yet */
	{ "HTT", 0 },
	{ "", 0 },
	{ "HTTP/2 200 OK", -1 },
	{ "SSH-2.0-OpenSSH_9.2", -1 },
	{ "HTTP/1.1 2000 OK", -1 },
	{ "HTTP/1.1 2x0 OK", -1 },
	{ "http/1.1 200 OK", -1 },
};

ParameterizedTestParameters(health, http_status)
{
	return cr_make_param_array(struct status_case, status_cases,
				   sizeof(status_cases) / sizeof(status_cases[0]));
}

ParameterizedTest(struct status_case *tc, health, http_status)
{
	cr_assert_eq(probe_http_status(tc->answer, strlen(tc->answer)), tc->want, "\"%s\"",
		     tc->answer);
}

/* An interim answer's head is dropped up to its blank line, read in
 * pieces: the end is found across pieces, CRLF or bare LF. */
Test(health, http_head_end)
{
	static const char early[] = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200";
	bool nl = false;

	cr_assert_eq(probe_http_head_end(early, strlen(early), &nl), (long)strlen(early) - 12);
	nl = false;
	cr_assert_eq(probe_http_head_end("HTTP/1.1 100 Continue\n\nHTTP", 27, &nl), 23);
	/* Split after the first CRLF of the two, then after a lone CR. */
	nl = false;
	cr_assert_eq(probe_http_head_end("HTTP/1.1 100 Continue\r\n", 23, &nl), -1);
	cr_assert(nl);
	cr_assert_eq(probe_http_head_end("\r", 1, &nl), -1);
	cr_assert_eq(probe_http_head_end("\nHTTP/1.1 200", 14, &nl), 1);
	/* A line between keeps looking. */
	nl = true;
	cr_assert_eq(probe_http_head_end("X: y\r\n", 6, &nl), -1);
	cr_assert_eq(probe_http_head_end("\r\n", 2, &nl), 2);
	nl = false;
	cr_assert_eq(probe_http_head_end("", 0, &nl), -1);
}

/* The Host header: the host if set, else the address; the port only
 * when it is not 80, as libcurl wrote it before. */
Test(health, http_request)
{
	struct probe_spec sp = { .type = CONFIG_HC_HTTP, .family = LB_FAMILY_IPV4, .port = 80,
				 .path = "/healthz" };
	char buf[PROBE_REQUEST_MAX];

	sp.addr[0] = htonl(0xc6120301);	/* 198.18.3.1 */
	cr_assert_gt(probe_http_request(&sp, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "GET /healthz HTTP/1.1\r\nHost: 198.18.3.1\r\nUser-Agent: sluice-lbd/"
			      LB_VERSION "\r\nAccept: */*\r\nConnection: close\r\n\r\n");
	sp.port = 8080;
	sp.host = "api.example";
	probe_http_request(&sp, buf, sizeof(buf));
	cr_assert(strstr(buf, "\r\nHost: api.example:8080\r\n"), "%s", buf);
	sp.host = "";
	sp.family = LB_FAMILY_IPV6;
	memset(sp.addr, 0, sizeof(sp.addr));
	sp.addr[0] = htonl(0xfd000000);
	sp.addr[3] = htonl(1);
	probe_http_request(&sp, buf, sizeof(buf));
	cr_assert(strstr(buf, "\r\nHost: [fd00::1]:8080\r\n"), "%s", buf);
	cr_assert_eq(probe_http_request(&sp, buf, 20), -1);
}

#define TUNNEL_CFG(via_a, via_b) \
	"{\"interface\": \"eth0\", \"tunnel_source\": {\"ipv4\": \"198.18.2.2\"}, \"vips\": [" \
	"{\"name\": \"a\", \"address\": \"198.18.100.1\", \"port\": 80, \"protocol\": \"tcp\", " \
	"\"health_check\": {\"port\": 8080, \"via\": \"" via_a "\"}, \"backends\": " \
	"[{\"address\": \"198.18.3.1\"}, {\"address\": \"198.18.3.2\"}]}, " \
	"{\"name\": \"a-tls\", \"address\": \"198.18.100.1\", \"port\": 443, \"protocol\": \"tcp\", " \
	"\"health_check\": {\"port\": 8080, \"via\": \"" via_a "\"}, \"backends\": " \
	"[{\"address\": \"198.18.3.1\"}]}, " \
	"{\"name\": \"b\", \"address\": \"198.18.100.2\", \"port\": 80, \"protocol\": \"tcp\", " \
	"\"health_check\": {\"port\": 8080, \"via\": \"" via_b "\"}, \"backends\": " \
	"[{\"address\": \"198.18.3.1\"}]}]}"

static void targets_expect(const char *text, size_t targets, size_t feeds)
{
	struct state *st = state_of(text);
	struct health_stats hs;
	struct health *h;
	sd_event *loop;

	cr_assert_eq(sd_event_new(&loop), 0);
	h = health_new(loop);
	cr_assert_not_null(h);
	cr_assert_eq(health_config(h, st), 0);
	health_stats_get(h, &hs);
	cr_assert_eq(hs.targets, targets, "%zu targets, want %zu: %s", hs.targets, targets, text);
	cr_assert_eq(hs.feeds, feeds, "%zu feeds, want %zu", hs.feeds, feeds);
	health_free(h);
	sd_event_unref(loop);
	state_free(st);
}

/*
 * A tunnel check's target is (VIP address, backend, check): 198.18.3.1
 * checked on 8080 through the tunnel of 198.18.100.1 is one probe for
 * both of that address's services, another one through 198.18.100.2's,
 * and a direct check of it is one more.
 */
Test(health, tunnel_targets)
{
	/* Direct: 3.1 and 3.2 on 8080, every VIP sharing them. */
	targets_expect(TUNNEL_CFG("direct", "direct"), 2, 4);
	/* Tunnel everywhere: (100.1, 3.1), (100.1, 3.2), (100.2, 3.1). */
	targets_expect(TUNNEL_CFG("tunnel", "tunnel"), 3, 4);
	/* b direct: its probe of 3.1 is not a's tunnel probe of 3.1. */
	targets_expect(TUNNEL_CFG("tunnel", "direct"), 3, 4);
}
