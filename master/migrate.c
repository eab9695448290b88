/*
 * migrate.c - see migrate.h. The program is two instructions, "return
 * SK_PASS": passing without selecting a socket leaves both the choice of a
 * new connection's socket and the migration target to the kernel's hash.
 * No libbpf: the bpf(2) system call takes the instructions as they are.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "master/migrate.h"

#include <linux/bpf.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_ATTACH_REUSEPORT_EBPF
#define SO_ATTACH_REUSEPORT_EBPF 52
#endif

static int
load_program(void)
{
    struct bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = SK_PASS},
        {.code = BPF_JMP | BPF_EXIT},
    };
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_SK_REUSEPORT;
    attr.expected_attach_type = BPF_SK_REUSEPORT_SELECT_OR_MIGRATE;
    attr.insns = (__u64)(unsigned long)insns;
    attr.insn_cnt = sizeof(insns) / sizeof(insns[0]);
    attr.license = (__u64)(unsigned long)"GPL";
    return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
}

bool
hn_migrate_enable(int fd)
{
    /* loaded for each group and closed at once: the group holds its own
     * reference, and no descriptor is left for workers to inherit */
    int prog = load_program();
    if (prog < 0)
        return false;
    bool ok = setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog, sizeof(prog)) == 0;
    close(prog);
    return ok;
}
