/* report: the summary of a run as text: throughput, latency percentiles per step, outcomes,
 * errors by HTTP status, and the invariant check with its verdict. */
#ifndef TIX_LOADTEST_REPORT_H
#define TIX_LOADTEST_REPORT_H

#include "loadtest/check.h"
#include "loadtest/session.h"

#include <stdio.h>

/* Print the summary of session s and its check r to out. */
void loadtest_report_print(FILE *out, const loadtest_session *s, const loadtest_check_result *r);

/* The name of a step, as the summary and the SVG show it. */
const char *loadtest_report_step_name(loadtest_step step);

#endif
