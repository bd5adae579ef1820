/* svg: the run as a self-contained SVG picture (no scripts, no external fonts or images):
 * a latency histogram per step on a logarithmic axis, with p50 and p99 marked, and the holds
 * and confirmations per second over the run. */
#ifndef TIX_LOADTEST_SVG_H
#define TIX_LOADTEST_SVG_H

#include "loadtest/session.h"

/* Write the report of session s to path. Returns 0, or -1 after logging why. */
int loadtest_svg_write(const char *path, const loadtest_session *s);

#endif
