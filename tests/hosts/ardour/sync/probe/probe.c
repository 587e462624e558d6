/*
 * A probe LV2 plugin for the Ardour sync tests: it passes audio through and writes,
 * for every run(), the block's length, the host's freewheel flag and every
 * time:Position the host sent (its frame offset and every property, with the atom
 * type) to the file named by $SYNC_PROBE_LOG. Not real-time safe (it writes a file
 * from run()): it is a measuring tool, never a plugin to use.
 *
 *   cc -shared -fPIC -O2 -o sync_probe.so probe.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lv2/atom/atom.h>
#include <lv2/atom/util.h>
#include <lv2/core/lv2.h>
#include <lv2/time/time.h>
#include <lv2/urid/urid.h>

#define PROBE_URI "urn:looper-lv2:sync-probe"

enum { IN = 0, OUT = 1, CONTROL = 2, FREEWHEEL = 3 };

typedef struct {
	const float* in;
	float* out;
	const LV2_Atom_Sequence* control;
	const float* freewheel;
	FILE* log;
	uint64_t runs;
	const LV2_URID_Unmap* unmap;
	LV2_URID atom_Object, atom_Blank, atom_Long, atom_Int, atom_Float, atom_Double;
	LV2_URID time_Position, time_frame, time_bar, time_barBeat, time_beat, time_beatUnit,
	    time_beatsPerBar, time_beatsPerMinute, time_speed;
} Probe;

static LV2_Handle instantiate(const LV2_Descriptor* d, double rate, const char* bundle,
                              const LV2_Feature* const* features) {
	(void)d;
	(void)bundle;
	const LV2_URID_Map* map = NULL;
	const LV2_URID_Unmap* unmap = NULL;
	for (int i = 0; features[i]; i++) {
		if (!strcmp(features[i]->URI, LV2_URID__map)) {
			map = (const LV2_URID_Map*)features[i]->data;
		} else if (!strcmp(features[i]->URI, LV2_URID__unmap)) {
			unmap = (const LV2_URID_Unmap*)features[i]->data;
		}
	}
	if (!map) {
		return NULL;
	}
	Probe* p = (Probe*)calloc(1, sizeof(Probe));
	const char* path = getenv("SYNC_PROBE_LOG");
	p->log = fopen(path && *path ? path : "/dev/null", "a");
	if (!p->log) {
		free(p);
		return NULL;
	}
	setvbuf(p->log, NULL, _IOFBF, 1 << 16);
	p->unmap = unmap;
	fprintf(p->log, "I rate=%.1f\n", rate);
#define M(field, uri) p->field = map->map(map->handle, uri)
	M(atom_Object, LV2_ATOM__Object);
	M(atom_Blank, LV2_ATOM__Blank);
	M(atom_Long, LV2_ATOM__Long);
	M(atom_Int, LV2_ATOM__Int);
	M(atom_Float, LV2_ATOM__Float);
	M(atom_Double, LV2_ATOM__Double);
	M(time_Position, LV2_TIME__Position);
	M(time_frame, LV2_TIME__frame);
	M(time_bar, LV2_TIME__bar);
	M(time_barBeat, LV2_TIME__barBeat);
	M(time_beat, LV2_TIME__beat);
	M(time_beatUnit, LV2_TIME__beatUnit);
	M(time_beatsPerBar, LV2_TIME__beatsPerBar);
	M(time_beatsPerMinute, LV2_TIME__beatsPerMinute);
	M(time_speed, LV2_TIME__speed);
#undef M
	return p;
}

static void connect_port(LV2_Handle h, uint32_t port, void* data) {
	Probe* p = (Probe*)h;
	switch (port) {
	case IN: p->in = (const float*)data; break;
	case OUT: p->out = (float*)data; break;
	case CONTROL: p->control = (const LV2_Atom_Sequence*)data; break;
	case FREEWHEEL: p->freewheel = (const float*)data; break;
	}
}

static const char* key_name(const Probe* p, LV2_URID k) {
	if (k == p->time_frame) return "frame";
	if (k == p->time_bar) return "bar";
	if (k == p->time_barBeat) return "barBeat";
	if (k == p->time_beat) return "beat";
	if (k == p->time_beatUnit) return "beatUnit";
	if (k == p->time_beatsPerBar) return "beatsPerBar";
	if (k == p->time_beatsPerMinute) return "beatsPerMinute";
	if (k == p->time_speed) return "speed";
	const char* uri = p->unmap ? p->unmap->unmap(p->unmap->handle, k) : NULL;
	return uri ? uri : "other";
}

static void print_value(const Probe* p, const LV2_Atom* a) {
	if (a->type == p->atom_Long) {
		fprintf(p->log, "L%lld", (long long)((const LV2_Atom_Long*)a)->body);
	} else if (a->type == p->atom_Int) {
		fprintf(p->log, "I%d", ((const LV2_Atom_Int*)a)->body);
	} else if (a->type == p->atom_Float) {
		fprintf(p->log, "F%.9g", ((const LV2_Atom_Float*)a)->body);
	} else if (a->type == p->atom_Double) {
		fprintf(p->log, "D%.17g", ((const LV2_Atom_Double*)a)->body);
	} else {
		fprintf(p->log, "?type%u", a->type);
	}
}

static void run(LV2_Handle h, uint32_t n) {
	Probe* p = (Probe*)h;
	if (p->in && p->out && p->in != p->out) {
		memmove(p->out, p->in, n * sizeof(float));
	}
	fprintf(p->log, "R %llu n=%u fw=%g\n", (unsigned long long)p->runs++, n,
	        p->freewheel ? *p->freewheel : -1.0);
	if (!p->control) {
		return;
	}
	LV2_ATOM_SEQUENCE_FOREACH(p->control, ev) {
		const LV2_Atom* a = &ev->body;
		if (a->type != p->atom_Object && a->type != p->atom_Blank) {
			fprintf(p->log, "E %lld type%u\n", (long long)ev->time.frames, a->type);
			continue;
		}
		const LV2_Atom_Object* o = (const LV2_Atom_Object*)a;
		fprintf(p->log, "P %lld%s", (long long)ev->time.frames,
		        o->body.otype == p->time_Position ? "" : " (not a Position)");
		LV2_ATOM_OBJECT_FOREACH(o, prop) {
			fprintf(p->log, " %s=", key_name(p, prop->key));
			print_value(p, &prop->value);
		}
		fprintf(p->log, "\n");
	}
}

static void cleanup(LV2_Handle h) {
	Probe* p = (Probe*)h;
	fclose(p->log);
	free(p);
}

static const LV2_Descriptor descriptor = {PROBE_URI, instantiate, connect_port, NULL, run,
                                          NULL, cleanup, NULL};

LV2_SYMBOL_EXPORT const LV2_Descriptor* lv2_descriptor(uint32_t index) {
	return index == 0 ? &descriptor : NULL;
}
