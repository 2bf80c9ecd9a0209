set terminal pngcairo size 1600,1150 font "DejaVu Sans,10"
set output "../plot.png"
set multiplot layout 2,2 title "Milena vs Apache Kafka 4.1.2: 2026-12-05-2002\n{/*0.7 P: produce, C: consume catch-up, F: fsync before ack (all rdkafka-performance); Pj, Cj: the Java perf tools' cross-checks. a1/aall: acks, 1p/8p: partitions}" font ",13"
set grid ytics
set xtics rotate by 35 right nomirror
set key top right

set title "Throughput (MB/s of record values, median over rounds)"
set style fill solid 0.8 border -1
set style data histograms
set style histogram clustered gap 1
set ylabel "MB/s"
set yrange [0:1910.3]
plot "throughput.dat" u 2:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 3 t "Kafka" lc rgb "#d95f02"

set title "Milena / Kafka throughput ratio (median; bars: min–max over rounds); target 2×"
set style histogram errorbars gap 1 lw 1
set ylabel "ratio"
set yrange [0:2.30]
plot "throughput.dat" u 4:5:6:xtic(1) t "Milena/Kafka" lc rgb "#7570b3", 2 t "target 2×" w lines dt 2 lw 2 lc rgb "black", 1 t "" w lines lc rgb "gray"

set title "Produce latency against load, % of the slower broker's maximum (1024B-acksall-p8, kafka-producer-perf-test)"
set style data linespoints
set xtics norotate autofreq
set yrange [*:*]
set logscale y
set ylabel "ms (median over rounds)"
set xrange [0:100]
set key below maxrows 2
plot "latency.dat" u 1:2 t "Milena p50" lc rgb "#1b9e77" dt 3 pt 7, \
     "" u 1:3 t "Milena p99" lc rgb "#1b9e77" dt 1 pt 7 lw 2, \
     "" u 1:4 t "Milena p99.9" lc rgb "#1b9e77" dt 2 pt 7, \
     "" u 1:5 t "Kafka p50" lc rgb "#d95f02" dt 3 pt 5, \
     "" u 1:6 t "Kafka p99" lc rgb "#d95f02" dt 1 pt 5 lw 2, \
     "" u 1:7 t "Kafka p99.9" lc rgb "#d95f02" dt 2 pt 5
unset logscale y
unset xrange
set key inside top right vertical

set title "Broker CPU-seconds per GB moved (target ≤ 0.3). Peak RSS: Milena 31 MB, Kafka 1141 MB"
set style fill solid 0.8 border -1
set style data histograms
set style histogram clustered gap 1
set ylabel "CPU-s / GB"
set yrange [0:1.94]
set xtics rotate by 35 right nomirror
plot "cpu.dat" u 2:xtic(1) t "Milena" lc rgb "#1b9e77", "" u 3 t "Kafka" lc rgb "#d95f02", 0.3 t "target 0.3" w lines dt 2 lw 2 lc rgb "black"
unset multiplot
