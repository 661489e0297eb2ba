/* testnet.h - network helpers shared by the unit tests (include after cmocka.h). */
#ifndef BW_TESTNET_H
#define BW_TESTNET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* A loopback port nobody listens on (SOCK_DGRAM or SOCK_STREAM): bound, read back and
 * closed, so a client pointed at it is refused or never answered. */
static inline int testnet_closed_port(int type)
{
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

#endif
