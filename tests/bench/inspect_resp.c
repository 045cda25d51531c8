/* inspect_resp.c: what the checkpoint costs per call, in process: a tools/call with a 1 KiB
 * request and a 4 KiB reply on one keep-alive flow, the reply as JSON (Content-Length) or
 * as one SSE event (chunked), with and without a payload recorder.
 * usage: build/bench/inspect_resp [CALLS]   (default 200000); prints CPU ns per call
 * (thread CPU time: other load on the machine does not count). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "inspect.h"
#include "policy.h"

static const char policy_text[] =
    "{\"rules\": [{\"name\": \"echo\", \"match\": {\"method\": \"tools/call\", \"tool\": "
    "\"echo\"}, \"action\": \"allow\"}, {\"name\": \"default\", \"action\": \"deny\"}]}";

static void on_report(void *userdata, const struct mw_inspect_event *ev)
{
	(void)userdata;
	(void)ev;
}

static void on_record(void *userdata, const struct mw_inspect_record *rec)
{
	*(size_t *)userdata += rec->len;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double run(struct mw_policy *pol, const char *req, const char *resp, size_t calls,
		  bool recorder)
{
	struct mw_inspect_env *e = calloc(1, sizeof(*e));
	struct mw_inspect_flow flow = { .unit = "app.service",
					.uid = 1000,
					.host = "127.0.0.1",
					.port = 8080,
					.direction = MW_POLICY_DIR_OUTBOUND };
	struct mw_bytes up = {}, cl = {};
	struct mw_inspect *in;
	size_t recorded = 0, nreq = strlen(req), nresp;
	bool close;
	double t0;

	if (!resp) /* the request side alone, answered by a short reply */
		resp = "HTTP/1.1 204 No Content\r\n\r\n";
	nresp = strlen(resp);
	e->refs = 1;
	e->policy = policy_ref(pol);
	if (inspect_new(e, &flow, on_report, &recorded, &in) < 0)
		abort();
	inspect_env_unref(e);
	if (recorder)
		inspect_set_recorder(in, on_record);
	t0 = now();
	for (size_t i = 0; i < calls; i++) {
		up.len = cl.len = 0;
		if (inspect_client(in, (const uint8_t *)req, nreq, &up, &cl, &close) < 0 ||
		    up.len != nreq)
			abort();
		if (inspect_server(in, (const uint8_t *)resp, nresp, &cl) < 0 ||
		    cl.len < nresp - 16)
			abort();
	}
	t0 = (now() - t0) / (double)calls;
	inspect_free(in);
	bytes_free(&up);
	bytes_free(&cl);
	return t0;
}

int main(int argc, char **argv)
{
	size_t calls = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	char text[4096], body[8192], req[4096], json[16384], sse[16384], ev[12288];
	json_t *root = json_loads(policy_text, 0, NULL);
	struct mw_policy *pol;
	struct mw_diag d;
	int n;

	if (!root ||
	    policy_compile(root, "bench", policy_text, strlen(policy_text), "", &pol, &d) < 0)
		return 1;
	json_decref(root);
	memset(text, 'a', 900);
	text[900] = 0;
	n = snprintf(body, sizeof(body),
		     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
		     "\"echo\",\"arguments\":{\"message\":\"%s\"}}}",
		     text);
	snprintf(req, sizeof(req),
		 "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		 "Accept: application/json, text/event-stream\r\nContent-Length: %d\r\n\r\n%s",
		 n, body);
	memset(text, 'b', 4000);
	text[4000] = 0;
	n = snprintf(body, sizeof(body),
		     "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\","
		     "\"text\":\"%s\"}]}}",
		     text);
	snprintf(
	    json, sizeof(json),
	    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", n,
	    body);
	n = snprintf(ev, sizeof(ev), "event: message\nid: 1\ndata: %s\n\n", body);
	snprintf(sse, sizeof(sse),
		 "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n",
		 n, ev);
	printf("calls %zu (1 KiB request, 4 KiB reply), ns per call:\n", calls);
	printf("  request, 204 reply  %8.0f\n", run(pol, req, NULL, calls, false));
	printf("  json reply          %8.0f\n", run(pol, req, json, calls, false));
	printf("  json reply, records %8.0f\n", run(pol, req, json, calls, true));
	printf("  sse reply           %8.0f\n", run(pol, req, sse, calls, false));
	printf("  sse reply, records  %8.0f\n", run(pol, req, sse, calls, true));
	policy_unref(pol);
	return 0;
}
