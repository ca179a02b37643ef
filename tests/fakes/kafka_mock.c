/* A Kafka peer for the tests: librdkafka's mock cluster (PLAINTEXT
 * listeners on 127.0.0.1, real Kafka protocol) in its own process. Prints
 * "KAFKA_BOOTSTRAPS=host:port,..." on stdout and lives until stdin closes,
 * SIGTERM, or --lifetime seconds (default 120) — never longer.
 *
 *   kafka_mock [--brokers N] [--topic NAME] [--deny-topic NAME] [--lifetime S]
 *
 * --deny-topic makes metadata answers carry TOPIC_AUTHORIZATION_FAILED for
 * that topic (what a broker with ACLs says to a user without DESCRIBE). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

int main(int argc, char **argv)
{
	int brokers = 1, lifetime = 120;
	const char *topics[8], *deny = NULL;
	int ntopics = 0;
	char errstr[256];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "kafka_mock: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--brokers") == 0)
			brokers = atoi(v);
		else if (strcmp(a, "--lifetime") == 0)
			lifetime = atoi(v);
		else if (strcmp(a, "--topic") == 0 && ntopics < 8)
			topics[ntopics++] = v;
		else if (strcmp(a, "--deny-topic") == 0 && ntopics < 8)
			topics[ntopics++] = deny = v;
		else {
			fprintf(stderr, "kafka_mock: unknown argument %s\n", a);
			return 2;
		}
		i++;
	}
	if (brokers < 1 || brokers > 9 || lifetime < 1 || lifetime > 600) {
		fprintf(stderr, "kafka_mock: --brokers 1..9, --lifetime 1..600\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGPIPE, SIG_IGN);

	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, quiet_log);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "kafka_mock: %s\n", errstr);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (!mc) {
		fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	for (int i = 0; i < ntopics; i++)
		rd_kafka_mock_topic_create(mc, topics[i], brokers, brokers > 3 ? 3 : brokers);
	if (deny)
		rd_kafka_mock_topic_set_error(mc, deny, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);

	printf("KAFKA_BOOTSTRAPS=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	time_t end = time(NULL) + lifetime;
	while (!stop && time(NULL) < end) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		int n = poll(&p, 1, 500);
		if (n < 0 && errno != EINTR)
			break;
		if (n == 1) {
			char buf[256];
			ssize_t r = read(0, buf, sizeof(buf));
			if (r <= 0)
				break;       /* the test went away */
		}
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
