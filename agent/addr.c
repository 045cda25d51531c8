/* addr.c: listen addresses and CIDRs in the notation the config and the tools use. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>


static int parse_decimal(const char *s, size_t n, unsigned max_digits, uint32_t *ret)
{
	uint32_t v = 0;

	if (n == 0 || n > max_digits)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint32_t)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

int mw_port_parse(const char *s, size_t n, uint16_t *ret)
{
	uint32_t v;
	int r;

	r = parse_decimal(s, n, 5, &v);
	if (r < 0)
		return r;
	if (v < 1 || v > 65535)
		return -ERANGE;
	*ret = (uint16_t)v;
	return 0;
}

int mw_sockaddr_parse(const char *s, struct mw_sockaddr *ret)
{
	char host[INET6_ADDRSTRLEN];
	const char *h, *port_str;
	struct mw_sockaddr sa = {};
	size_t hlen;
	uint16_t port;
	int family, r;

	if (!s || !ret)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		port_str = close + 2;
		family = AF_INET6;
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon)
			return -EINVAL;
		h = s;
		hlen = (size_t)(colon - s);
		port_str = colon + 1;
		family = AF_INET;
		if (memchr(h, ':', hlen))
			return -EINVAL; /* IPv6 must be bracketed */
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	r = mw_port_parse(port_str, strlen(port_str), &port);
	if (r < 0)
		return r;

	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa.ss;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -EINVAL;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		sa.len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa.ss;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		sa.len = sizeof(*in6);
	}
	*ret = sa;
	return 0;
}

const char *mw_sockaddr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (!buf || size == 0)
		return buf;
	if (!sa) {
		snprintf(buf, size, "(none)");
		return buf;
	}
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
		break;
	}
	default:
		snprintf(buf, size, "(address family %u)", (unsigned)sa->sa_family);
		break;
	}
	return buf;
}

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Parse and mask; *ret_host_bits tells whether masking changed anything. */
int mw_cidr_parse_bits(const char *s, struct mw_cidr *ret, bool *ret_host_bits)
{
	char host[INET6_ADDRSTRLEN];
	struct mw_cidr c = {};
	const char *slash;
	size_t hlen;
	uint32_t plen, max;
	bool host_bits = false;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	hlen = slash ? (size_t)(slash - s) : strlen(s);
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';

	if (memchr(host, ':', hlen)) {
		if (inet_pton(AF_INET6, host, c.addr) != 1)
			return -EINVAL;
		max = 128;
	} else {
		memcpy(c.addr, v4_mapped_prefix, sizeof(v4_mapped_prefix));
		if (inet_pton(AF_INET, host, c.addr + 12) != 1)
			return -EINVAL;
		max = 32;
	}
	if (slash) {
		if (parse_decimal(slash + 1, strlen(slash + 1), 3, &plen) < 0)
			return -EINVAL;
		if (plen > max)
			return -ERANGE;
	} else {
		plen = max;
	}
	c.prefixlen = (uint8_t)(max == 32 ? plen + 96 : plen);

	for (unsigned bit = c.prefixlen; bit < 128; bit++) {
		uint8_t mask = (uint8_t)(0x80 >> (bit % 8));

		if (c.addr[bit / 8] & mask) {
			host_bits = true;
			c.addr[bit / 8] &= (uint8_t)~mask;
		}
	}
	*ret = c;
	*ret_host_bits = host_bits;
	return 0;
}

int mw_cidr_parse(const char *s, struct mw_cidr *ret)
{
	struct mw_cidr c;
	bool host_bits;
	int r;

	if (!ret)
		return -EINVAL;
	r = mw_cidr_parse_bits(s, &c, &host_bits);
	if (r < 0)
		return r;
	if (host_bits)
		return -EDOM;
	*ret = c;
	return 0;
}

const char *mw_cidr_str(const struct mw_cidr *cidr, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (!buf || size == 0)
		return buf;
	if (cidr->prefixlen >= 96 &&
	    memcmp(cidr->addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0) {
		inet_ntop(AF_INET, cidr->addr + 12, host, sizeof(host));
		snprintf(buf, size, "%s/%u", host, cidr->prefixlen - 96u);
	} else {
		inet_ntop(AF_INET6, cidr->addr, host, sizeof(host));
		snprintf(buf, size, "%s/%u", host, (unsigned)cidr->prefixlen);
	}
	return buf;
}

void mw_addr16(const struct sockaddr_storage *ss, uint8_t out[16], uint16_t *ret_port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &sin->sin_addr, 4);
		*ret_port = ntohs(sin->sin_port);
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		memcpy(out, &sin6->sin6_addr, 16);
		*ret_port = ntohs(sin6->sin6_port);
	}
}
