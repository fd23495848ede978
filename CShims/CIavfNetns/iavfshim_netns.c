// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <sched.h>
#include "iavfshim_netns.h"

int iavfshim_setns(int fd, int nstype)
{
	return setns(fd, nstype);
}
