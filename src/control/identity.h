/* Who is writing: the program, host, pid, pid namespace and start time of this
 * process, and from them the part of every file name that keeps two processes'
 * series apart — on two hosts sharing a volume, in two pid namespaces (pid 1 in
 * every container), or a pid reused later. */
#ifndef HEAPPROF_IDENTITY_H
#define HEAPPROF_IDENTITY_H

#include <stdint.h>

typedef struct hp_identity {
    char program[40];     /* basename of argv[0], only [A-Za-z0-9_+-] kept */
    char host[72];        /* uname nodename, same characters */
    int pid;
    uint64_t pidns;       /* inode of /proc/self/ns/pid, 0 if unknown */
    uint64_t start_ticks; /* /proc/self/stat field 22: start after boot */
    long long start_unix; /* the same as Unix seconds, -1 if unknown */
    char run[9];          /* 8 hex digits: hash of host, boot id, pidns, start */
} hp_identity;

/* Reads it (files under /proc, uname): at start-up and in a forked child. */
void hp_identity_refresh(void);

const hp_identity *hp_identity_get(void);

/* The comment line: "heapprof program=… pid=… host=… pidns=… start=…". */
void hp_identity_comment(char *buf, unsigned size);

#endif
