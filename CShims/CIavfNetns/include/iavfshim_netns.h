/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * setns(2), which Swift's Glibc module does not export (it is a _GNU_SOURCE
 * declaration): the suite enters a VF's network namespace on a thread of its own to
 * open a netlink socket there. Returns 0, or -1 with errno set, as setns does.
 */
#ifndef IAVFSHIM_NETNS_H
#define IAVFSHIM_NETNS_H

int iavfshim_setns(int fd, int nstype);

#endif
