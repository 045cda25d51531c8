/* unit.h: systemd units and slices to cgroups, through systemd's D-Bus API.
 * Where systemd does not run (no system bus, or no org.freedesktop.systemd1), the error
 * says so and points at enrolling by cgroup path. */
#pragma once

#include <stddef.h>

/* The unit's cgroup, relative to the cgroup2 mount ("/system.slice/x.service").
 * Fills errbuf with a sentence for the operator on failure. */
int unit_cgroup(const char *unit, char *ret_path, size_t size, char *errbuf, size_t errlen);
