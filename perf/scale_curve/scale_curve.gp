# The plot of perf/scale_curve: gnuplot -e "datafile='D'; outfile='F.png'; spl=10" scale_curve.gp
# Columns of D (scale_curve_row.py --table): leads snippets rss_mb bytes_per_snippet p50_ms p99_ms
# cpu_ms_per_query usd_per_lead. Three panels against the number of leads (log scale): memory, latency and
# CPU per query, cost per lead.
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
  set terminal pngcairo size 1500,520 font "sans,10"
} else {
  set terminal png size 1500,520
}
set output outfile
set termoption noenhanced
set datafile missing "NaN"
set multiplot layout 1,3 title "leadpoet: memory, latency and cost as the market grows (perf/scale_curve)"
set logscale x
set format x "%.0s%c"
if (!exists("spl")) spl = 10
set xlabel sprintf("leads held (%d snippets each asked)", spl)
set grid
set key below

set title "resident memory"
set ylabel "RSS (MB)"
set y2label "bytes per snippet held"
set ytics nomirror
set y2tics
set y2range [0:*]
set yrange [0:*]
plot datafile using 1:3 with linespoints lw 2 pt 7 title "RSS MB", \
     datafile using 1:4 axes x1y2 with linespoints lw 2 pt 5 dt 2 title "B/snippet (right)"

set title "POST /v1/leads, open loop"
set ylabel "latency from the schedule (ms, log)"
set logscale y
set yrange [*:*]
set y2label "CPU ms per query (accounted)"
plot datafile using 1:5 with linespoints lw 2 pt 7 title "p50 latency", \
     datafile using 1:6 with linespoints lw 2 pt 9 title "p99 latency", \
     datafile using 1:7 axes x1y2 with linespoints lw 2 pt 5 dt 2 title "CPU ms/query (right)"

set title "cost per delivered lead"
unset logscale y
set yrange [0:*]
set ylabel "USD per lead"
unset y2label
unset y2tics
set ytics mirror
set format y "%.1e"
plot datafile using 1:8 with linespoints lw 2 pt 7 title "USD per lead (server accounting)"
unset multiplot
