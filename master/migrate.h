/*
 * migrate.h - connections queued on a listening socket that closes move to
 * another socket of its SO_REUSEPORT group instead of being reset: a
 * removed worker slot (SIGTTOU, a reload or an upgrade with fewer workers,
 * a stuck worker's slot replaced) then loses nothing the kernel had
 * accepted for it. Linux (5.14+) does this for a group that carries a
 * BPF_SK_REUSEPORT_SELECT_OR_MIGRATE program, or everywhere with the
 * net.ipv4.tcp_migrate_req sysctl; the program here selects nothing, so
 * new connections are spread by the kernel's hash as without it.
 */
#ifndef HN_MASTER_MIGRATE_H
#define HN_MASTER_MIGRATE_H

#include <stdbool.h>

/* Attach the program to fd's reuseport group (fd bound with SO_REUSEPORT).
 * Loading it needs CAP_BPF or CAP_SYS_ADMIN (a master started as root has
 * them): without, or on an older kernel, false, and the group resets what
 * a closing socket had queued unless the sysctl is set. */
bool hn_migrate_enable(int fd);

#endif
