/* stall.c: a listener that never accepts, so once its tiny backlog is full further SYNs are
 * dropped and connects hang: how the tests make an upstream that never answers without
 * sending a packet off the machine.  Usage: stall ADDR PORT (IPv4); prints "ready". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int one = 1, fd, filler[4];

	if (argc != 3 || inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "usage: stall ADDR PORT\n");
		return 2;
	}
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 0) < 0) {
		perror("stall");
		return 1;
	}
	/* fill the accept queue ourselves */
	for (int i = 0; i < 4; i++) {
		filler[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(filler[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	usleep(200000);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
