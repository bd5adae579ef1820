/* svg: see svg.h. Written with fprintf only; every coordinate is computed here, in a fixed
 * 1000 x 1060 canvas: a title, four histogram panels in two rows, the throughput chart. */
#include "loadtest/svg.h"

#include "loadtest/report.h"
#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum {
    SVG_WIDTH = 1000,
    SVG_HEIGHT = 1060,
    SVG_BINS_PER_DECADE = 10,
    SVG_DECADES_MAX = 9, /* 1 us .. 1000 s */
    SVG_BINS = SVG_BINS_PER_DECADE * SVG_DECADES_MAX,
};

static const char *const svg__step_colors[LOADTEST_STEPS] = {"#4e79a7", "#f28e2b", "#59a14f",
                                                             "#b07aa1"};

typedef struct svg_box {
    double x, y, w, h; /* the plot area, inside the axes */
} svg_box;

/* Write s as XML text (escaping the five special characters). */
static void svg__text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* The smallest of 1, 2, 5 x 10^k that is >= v (v > 0). */
static double svg__nice_ceil(double v)
{
    if (v <= 1) return 1;
    double base = pow(10, floor(log10(v)));
    for (int i = 0; i < 3; i++) {
        double step = base * (double[]){1, 2, 5}[i];
        if (step >= v) return step;
    }
    return base * 10;
}

/* A latency in microseconds as a short label: "250us", "3ms", "1.5s". */
static void svg__duration_label(double us, char *out, size_t size)
{
    if (us < 1000)
        snprintf(out, size, "%.3gus", us);
    else if (us < 1000000)
        snprintf(out, size, "%.3gms", us / 1000);
    else
        snprintf(out, size, "%.3gs", us / 1000000);
}

static void svg__axes(FILE *f, const svg_box *b, const char *x_label, const char *y_label)
{
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" "
            "stroke=\"#999\"/>\n",
            b->x, b->y, b->w, b->h);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"label\">",
            b->x + b->w / 2, b->y + b->h + 34);
    svg__text(f, x_label);
    fprintf(f,
            "</text>\n<text transform=\"translate(%.1f %.1f) rotate(-90)\" "
            "text-anchor=\"middle\" class=\"label\">",
            b->x - 44, b->y + b->h / 2);
    svg__text(f, y_label);
    fprintf(f, "</text>\n");
}

/* A y scale for values up to top: a round step, and the axis maximum, the first whole number
 * of steps above top (so the highest bar or line never touches the frame). */
static double svg__y_scale(double top, double *step_out)
{
    double step = svg__nice_ceil(top / 5);
    *step_out = step;
    return step * (floor(top / step) + 1);
}

/* Horizontal grid lines and labels from 0 to y_max every step. */
static void svg__y_ticks(FILE *f, const svg_box *b, double y_max, double step)
{
    for (int i = 0; i <= 10 && step * i <= y_max + 1e-9; i++) {
        double y = b->y + b->h - b->h * step * i / y_max;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                b->x, y, b->x + b->w, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">%g</text>\n",
                b->x - 4, y + 4, step * i);
    }
}

/* Sum the histogram's buckets into display bins of 1/10 decade from 1 us. */
static void svg__bins(const loadtest_histogram *h, uint64_t bins[SVG_BINS])
{
    memset(bins, 0, SVG_BINS * sizeof(uint64_t));
    for (uint32_t k = 0; k < LOADTEST_HISTOGRAM_BUCKETS; k++) {
        if (!h->counts[k]) continue;
        double mid =
            (double)(loadtest_histogram_bucket_low(k) + loadtest_histogram_bucket_high(k)) / 2;
        int bin = mid < 1 ? 0 : (int)floor(log10(mid) * SVG_BINS_PER_DECADE);
        if (bin >= SVG_BINS) bin = SVG_BINS - 1;
        bins[bin] += h->counts[k];
    }
}

/* x of a latency on the panel's log axis from 10^lo to 10^hi microseconds. */
static double svg__log_x(const svg_box *b, double us, int lo, int hi)
{
    double v = log10(us < 1 ? 1 : us);
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    return b->x + b->w * (v - lo) / (hi - lo);
}

static void svg__marker(FILE *f, const svg_box *b, double x, const char *name, uint64_t us)
{
    char label[32];
    svg__duration_label((double)us, label, sizeof(label));
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
            "stroke-dasharray=\"4 3\"/>\n",
            x, b->y, x, b->y + b->h);
    bool right_edge = x > b->x + b->w - 80; /* put the label inside the panel */
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"tick\">%s %s</text>\n",
            right_edge ? x - 3 : x + 3, b->y + (name[1] == '5' ? 12 : 24),
            right_edge ? "end" : "start", name, label);
}

static void svg__histogram(FILE *f, const svg_box *b, const loadtest_histogram *h,
                           loadtest_step step)
{
    char title[160];
    if (step == LOADTEST_STEP_BOOKING)
        snprintf(title, sizeof(title), "%s: %" PRIu64 " (polled every %d ms)",
                 loadtest_report_step_name(step), h->count, LOADTEST_POLL_INTERVAL_MS);
    else
        snprintf(title, sizeof(title), "%s latency: %" PRIu64 " requests",
                 loadtest_report_step_name(step), h->count);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"title\">", b->x, b->y - 10);
    svg__text(f, title);
    fprintf(f, "</text>\n");
    uint64_t bins[SVG_BINS], top = 0;
    svg__bins(h, bins);
    for (int i = 0; i < SVG_BINS; i++)
        top = bins[i] > top ? bins[i] : top;
    int lo = h->count ? (int)floor(log10(h->value_min < 1 ? 1 : (double)h->value_min)) : 2;
    int hi = h->count ? (int)ceil(log10((double)h->value_max + 1)) : 5;
    if (hi > SVG_DECADES_MAX) hi = SVG_DECADES_MAX;
    if (hi < 2) hi = 2;
    if (lo > hi - 2) lo = hi - 2; /* at least two decades, widened towards the fast side */
    double y_step, y_max = svg__y_scale((double)top, &y_step);
    svg__axes(f, b, "latency (log scale)", step == LOADTEST_STEP_BOOKING ? "bookings" : "requests");
    svg__y_ticks(f, b, y_max, y_step);
    for (int d = lo; d <= hi; d++) {
        char label[32];
        svg__duration_label(pow(10, d), label, sizeof(label));
        double x = svg__log_x(b, pow(10, d), lo, hi);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"tick\">%s</text>\n",
                x, b->y + b->h + 16, label);
    }
    for (int i = lo * SVG_BINS_PER_DECADE; i < hi * SVG_BINS_PER_DECADE && i < SVG_BINS; i++) {
        if (!bins[i]) continue;
        double x0 = svg__log_x(b, pow(10, (double)i / SVG_BINS_PER_DECADE), lo, hi);
        double x1 = svg__log_x(b, pow(10, (double)(i + 1) / SVG_BINS_PER_DECADE), lo, hi);
        double bar = b->h * (double)bins[i] / y_max;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
                x0 + 0.5, b->y + b->h - bar, x1 - x0 - 1 > 0.5 ? x1 - x0 - 1 : 0.5, bar,
                svg__step_colors[step]);
    }
    if (!h->count) {
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"label\">no data"
                "</text>\n",
                b->x + b->w / 2, b->y + b->h / 2);
        return;
    }
    uint64_t p50 = loadtest_histogram_percentile(h, 0.5),
             p99 = loadtest_histogram_percentile(h, 0.99);
    svg__marker(f, b, svg__log_x(b, (double)p50, lo, hi), "p50", p50);
    svg__marker(f, b, svg__log_x(b, (double)p99, lo, hi), "p99", p99);
}

/* x of second t on a time axis of `span_s` seconds. */
static double svg__time_x(const svg_box *b, double t, double span_s)
{
    return b->x + b->w * (t > span_s ? span_s : t) / span_s;
}

/* The per-second series as a step line: second i spans [i, i+1) (the last one ends with the
 * run, so a partial last second stays narrow). */
static void svg__steps(FILE *f, const svg_box *b, const uint32_t *series, uint32_t n, double span_s,
                       double y_max, const char *color)
{
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    for (uint32_t i = 0; i < n; i++) {
        double y = b->y + b->h - b->h * series[i] / y_max;
        fprintf(f, "%.1f,%.1f %.1f,%.1f ", svg__time_x(b, i, span_s), y,
                svg__time_x(b, i + 1, span_s), y);
    }
    fprintf(f, "\"/>\n");
}

static void svg__legend(FILE *f, const svg_box *b)
{
    double x = b->x + b->w - 150, y = b->y + 10;
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"140\" height=\"46\" fill=\"#fff\" "
            "stroke=\"#ccc\"/>\n",
            x, y);
    const char *names[2] = {"holds/s", "confirmed/s"}, *colors[2] = {"#f28e2b", "#59a14f"};
    for (int i = 0; i < 2; i++)
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"3\"/><text x=\"%.1f\" y=\"%.1f\" class=\"tick\">%s</text>\n",
                x + 8, y + 14 + 20 * i, x + 32, y + 14 + 20 * i, colors[i], x + 38, y + 18 + 20 * i,
                names[i]);
}

static void svg__throughput(FILE *f, const svg_box *b, const loadtest_stats *st)
{
    uint32_t n = st->seconds, top = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (st->holds_per_s[i] > top) top = st->holds_per_s[i];
        if (st->confirmed_per_s[i] > top) top = st->confirmed_per_s[i];
    }
    double span_s = (double)(st->end_us - st->start_us) / 1e6;
    if (span_s < n - 1 + 0.001) span_s = n - 1 + 0.001; /* the series never outruns the clock */
    if (span_s < 1) span_s = 1;
    double y_step, y_max = svg__y_scale(top, &y_step);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" class=\"title\">throughput: holds created and "
            "bookings confirmed in each second of the run</text>\n",
            b->x, b->y - 10);
    svg__axes(f, b, "seconds since the start of the run", "per second");
    svg__y_ticks(f, b, y_max, y_step);
    double x_step = svg__nice_ceil(span_s / 10.0);
    for (int i = 0; i <= 20 && i * x_step <= span_s + 1e-9; i++)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"tick\">%g</text>\n",
                svg__time_x(b, i * x_step, span_s), b->y + b->h + 16, i * x_step);
    svg__steps(f, b, st->holds_per_s, n, span_s, y_max, "#f28e2b");
    svg__steps(f, b, st->confirmed_per_s, n, span_s, y_max, "#59a14f");
    svg__legend(f, b);
}

static void svg__header(FILE *f, const loadtest_session *s)
{
    const loadtest_config *c = s->config;
    const loadtest_stats *st = &s->stats;
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n",
            SVG_WIDTH, SVG_HEIGHT, SVG_WIDTH, SVG_HEIGHT);
    fprintf(f, "<style>.title{font-size:15px;font-weight:bold;fill:#222}"
               ".label{font-size:12px;fill:#444}.tick{font-size:11px;fill:#555}</style>\n");
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
    fprintf(f, "<text x=\"30\" y=\"32\" font-size=\"20\" font-weight=\"bold\">tix loadtest: ");
    svg__text(f, c->event_id);
    fprintf(f, "</text>\n<text x=\"30\" y=\"54\" class=\"label\">");
    svg__text(f, c->url);
    double elapsed_s = (double)(st->end_us - st->start_us) / 1e6;
    fprintf(f,
            " | %" PRIu64 " of %u buyers in %.1f s, concurrency %u, 1-%u seats each, "
            "seed %u | confirmed %" PRIu64 ", payment failed %" PRIu64 ", gave up %" PRIu64
            ", errors %" PRIu64 "</text>\n",
            st->buyers_done, c->buyers, elapsed_s, c->concurrency, s->seats_per_buyer, c->seed,
            st->outcomes[LOADTEST_OUTCOME_CONFIRMED], st->outcomes[LOADTEST_OUTCOME_PAYMENT_FAILED],
            st->outcomes[LOADTEST_OUTCOME_NO_SEATS] + st->outcomes[LOADTEST_OUTCOME_CONFLICTS],
            st->errors);
}

int loadtest_svg_write(const char *path, const loadtest_session *s)
{
    FILE *f = fopen(path, "w");
    if (!f) return log_error("loadtest: cannot write %s: %s", path, strerror(errno)), -1;
    svg__header(f, s);
    for (int i = 0; i < LOADTEST_STEPS; i++) {
        svg_box b = {80 + (i % 2) * 480, 110 + (i / 2) * 300, 390, 200};
        svg__histogram(f, &b, &s->stats.latency[i], (loadtest_step)i);
    }
    svg_box t = {80, 720, 880, 270};
    svg__throughput(f, &t, &s->stats);
    fprintf(f, "</svg>\n");
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0) failed = true;
    if (failed) return log_error("loadtest: cannot write %s: %s", path, strerror(errno)), -1;
    return 0;
}
