/* unit.c: see unit.h. */
#include "unit.h"

#include <stdio.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "util.h"

static const char *unit_interface(const char *unit)
{
	static const struct {
		const char *suffix, *iface;
	} map[] = {
		{ ".service", "org.freedesktop.systemd1.Service" },
		{ ".slice", "org.freedesktop.systemd1.Slice" },
		{ ".scope", "org.freedesktop.systemd1.Scope" },
		{ ".socket", "org.freedesktop.systemd1.Socket" },
	};
	size_t n = strlen(unit);

	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		size_t sl = strlen(map[i].suffix);

		if (n > sl && strcmp(unit + n - sl, map[i].suffix) == 0)
			return map[i].iface;
	}
	return NULL;
}

int unit_cgroup(const char *unit, char *ret_path, size_t size, char *errbuf, size_t errlen)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	const char *iface = unit_interface(unit), *object = NULL;
	char *cg = NULL;
	sd_bus *bus = NULL;
	int r;

	if (!iface) {
		snprintf(errbuf, errlen,
			 "'%s' is not a unit name this agent can enroll (.service, .slice, .scope, "
			 ".socket)",
			 unit);
		return -EINVAL;
	}
	r = sd_bus_open_system(&bus);
	if (r < 0) {
		snprintf(errbuf, errlen,
			 "cannot resolve unit '%s': systemd is not running here (no system bus: "
			 "%s); enroll by --cgroup PATH instead",
			 unit, strerror(-r));
		return -EHOSTDOWN;
	}
	r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
			       "org.freedesktop.systemd1.Manager", "GetUnit", &error, &reply, "s",
			       unit);
	if (r < 0) {
		snprintf(errbuf, errlen, "cannot resolve unit '%s': %s", unit,
			 error.message ? error.message : strerror(-r));
		goto out;
	}
	r = sd_bus_message_read(reply, "o", &object);
	if (r < 0) {
		snprintf(errbuf, errlen, "cannot resolve unit '%s': bad reply from systemd", unit);
		goto out;
	}
	r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", object, iface,
				       "ControlGroup", &error, &cg);
	if (r < 0) {
		snprintf(errbuf, errlen, "cannot read the cgroup of '%s': %s", unit,
			 error.message ? error.message : strerror(-r));
		goto out;
	}
	if (!cg[0]) {
		snprintf(errbuf, errlen, "unit '%s' is not active: it has no cgroup yet", unit);
		r = -ESRCH;
		goto out;
	}
	if ((size_t)snprintf(ret_path, size, "%s", cg) >= size)
		r = -ENAMETOOLONG;
	else
		r = 0;
out:
	free(cg);
	sd_bus_error_free(&error);
	sd_bus_message_unref(reply);
	sd_bus_flush_close_unref(bus);
	return r;
}
