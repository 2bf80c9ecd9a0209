set terminal pngcairo size 1600,1150 font "DejaVu Sans,10"
set output "../plot.png"
set multiplot layout 2,2 title "Milena vs Apache Kafka 4.1.2: 2026-12-06-1828\n{/*0.7 P: produce, C: consume catch-up, F: fsync before ack (all rdkafka-performance); Pj, Cj: the Java perf tools' cross-checks. a1/aall: acks, 1p/8p: partitions}" font ",13"
set grid ytics
set xtics rotate by 35 right nomirror
set key top right

set title "Throughput (MB/s of record values, median over rounds)"
set style fill solid 0.8 border -1
set style data histograms
set style histogram clustered gap 1
set ylabel "MB/s"
set yrange [0:1776.0]
plot "throughput.dat" u 2:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 3 t "Kafka" lc rgb "#d95f02"

set title "Milena / Kafka throughput ratio (median; bars: min–max over rounds); target 2×"
set style histogram errorbars gap 1 lw 1
set ylabel "ratio"
set yrange [0:2.30]
plot "throughput.dat" u 4:5:6:xtic(1) t "Milena/Kafka" lc rgb "#7570b3", 2 t "target 2×" w lines dt 2 lw 2 lc rgb "black", 1 t "" w lines lc rgb "gray"
set title "no latency runs"
unset border
unset tics
plot [0:1][0:1] NaN notitle
set border
set tics

set title "Broker CPU-seconds per GB moved (target ≤ 0.3). Peak RSS: Milena 16 MB, Kafka 684 MB"
set style fill solid 0.8 border -1
set style data histograms
set style histogram clustered gap 1
set ylabel "CPU-s / GB"
set yrange [0:0.66]
set xtics rotate by 35 right nomirror
plot "cpu.dat" u 2:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 3 t "Kafka" lc rgb "#d95f02", 0.3 t "target 0.3" w lines dt 2 lw 2 lc rgb "black"
unset multiplot
